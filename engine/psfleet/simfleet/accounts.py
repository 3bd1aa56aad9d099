"""Accounts a simulated host accepts, and the NTLM credential file pyspnego's acceptor reads."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from psfleet.errors import UsageError
from psfleet.transport.nt_hash import nt_hash

DEFAULT_DOMAIN = "LAB"
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "psfleet-demo"  # documented in README: a demo account on loopback only


@dataclass(frozen=True, slots=True)
class Account:
    domain: str
    user: str
    password: str = field(repr=False)

    @property
    def qualified(self) -> str:
        return f"{self.domain}\\{self.user}"


class Accounts:
    """Look up accounts as Windows does: case-insensitive, with or without the domain."""

    def __init__(self, accounts: list[Account]) -> None:
        if not accounts:
            raise UsageError("the users file defines no account")
        self._by_name = {a.user.lower(): a for a in accounts}
        self._by_name.update({a.qualified.lower(): a for a in accounts})
        self._by_name.update({f"{a.user}@{a.domain}".lower(): a for a in accounts})
        self.all = tuple(accounts)

    def find(self, name: str) -> Account | None:
        return self._by_name.get(name.strip().lower())

    def write_ntlm_file(self, path: Path) -> Path:
        """The NTLM_USER_FILE pyspnego's acceptor reads, in smbpasswd form.

        With the NT hash written out, the acceptor derives nothing on a login; from a
        password it would derive the LM hash too (pure-Python DES, ~0.8 ms), which NTLMv2
        never uses and Windows no longer stores (the zeros here). One line per way a
        client may name the user (DOMAIN\\user, user@DOMAIN, user).
        """
        lines = []
        for account in self.all:
            hashes = f"{'0' * 32}:{nt_hash(account.password).hex()}"
            for name in (account.qualified, f"{account.user}@{account.domain}", account.user):
                lines.append(f"{name}:1000:{hashes}:[U]:LCT-00000000")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        return path

    def __repr__(self) -> str:
        return f"Accounts({[a.qualified for a in self.all]})"


def default_accounts(domain: str = DEFAULT_DOMAIN) -> Accounts:
    return Accounts([Account(domain, DEFAULT_USER, DEFAULT_PASSWORD)])


def load_accounts(path: Path, default_domain: str = DEFAULT_DOMAIN) -> Accounts:
    """A users file: one `[DOMAIN\\]user:password` per line, # comments allowed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read users file {path}: {exc.strerror}") from exc
    accounts = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password = line.partition(":")
        if not sep or not name or not password:
            raise UsageError(f"{path}:{number}: expected [DOMAIN\\]user:password")
        domain, _, user = name.rpartition("\\")
        accounts.append(Account(domain or default_domain, user, password))
    return Accounts(accounts)

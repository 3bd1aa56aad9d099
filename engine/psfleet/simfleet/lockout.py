"""The domain's account lockout policy: one bad-password counter per account, for every host.

Windows keeps badPwdCount on the domain controller, so a wrong password tried on
many hosts counts once per host against the same account; at the lockout threshold
the account is locked and every host refuses it, the right password included, until
the lockout duration has passed. A successful logon resets the counter.

Counters live in one flat int64 array, a row per account, so worker processes can
share it (multiprocessing.RawArray). Unlike the host counters (stats.py), a row is
written by whichever worker served the logon, so updates take a lock: a process-shared
one with workers, held for a few integer operations.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable, MutableSequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.context import SpawnContext
from typing import Any

from psfleet.simfleet.accounts import Account, Accounts

WINDOWS_LOCKOUT_DURATION_S = 1800.0  # "Account lockout duration" once a threshold is set


class Cell(enum.IntEnum):
    BAD_PASSWORDS = 0  # badPwdCount
    FAILED_LOGONS = 1  # every refused logon: wrong password, or any password while locked
    LOCKOUTS = 2  # times the account was locked
    LOCKED_AT_NS = 3  # monotonic time of the lockout; 0 when not locked
    LAST_BAD_NS = 4  # monotonic time of the last bad password (badPasswordTime)


WIDTH = len(Cell)


@dataclass(frozen=True, slots=True)
class SharedLockout:
    """The counters and their lock, in shared memory: what worker processes are handed."""

    cells: MutableSequence[int]
    lock: AbstractContextManager[Any]

    @classmethod
    def create(cls, context: SpawnContext, accounts: Accounts) -> SharedLockout:
        return cls(context.RawArray("q", len(accounts.all) * WIDTH), context.Lock())


class AccountLockout:
    """Judges logons against the lockout policy and keeps the counters /stats shows.

    threshold 0 never locks (Windows' default), but bad passwords are still counted.
    duration 0 locks until `reset()`, as Windows' "until an administrator unlocks it".
    Bad passwords older than the duration are forgotten before a new one counts
    (Windows' "Reset account lockout counter after", which may not exceed the
    duration, taken equal to it).
    """

    def __init__(
        self,
        accounts: Accounts,
        *,
        threshold: int = 0,
        duration_s: float = WINDOWS_LOCKOUT_DURATION_S,
        shared: SharedLockout | None = None,
        clock_ns: Callable[[], int] = time.monotonic_ns,  # system-wide: same in every worker
    ) -> None:
        self._accounts = accounts
        self._rows = {account: i * WIDTH for i, account in enumerate(accounts.all)}
        self.threshold = threshold
        self._duration_ns = int(duration_s * 1e9)
        if shared is None:
            shared = SharedLockout([0] * (len(accounts.all) * WIDTH), threading.Lock())
        self._cells = shared.cells
        self._lock = shared.lock
        self._clock_ns = clock_ns

    def bad_password(self, name: str | None) -> None:
        """A logon as `name` failed on its password. Names of no account count nowhere."""
        row = self._row(name)
        if row is None:
            return
        with self._lock:
            now = self._clock_ns()
            self._cells[row + Cell.FAILED_LOGONS] += 1
            if self._locked(row, now):
                return  # the DC refuses a locked account before it looks at the password
            if self._duration_ns and now - self._cells[row + Cell.LAST_BAD_NS] >= self._duration_ns:
                self._cells[row + Cell.BAD_PASSWORDS] = 0
            self._cells[row + Cell.BAD_PASSWORDS] += 1
            self._cells[row + Cell.LAST_BAD_NS] = now
            if self.threshold and self._cells[row + Cell.BAD_PASSWORDS] >= self.threshold:
                self._cells[row + Cell.LOCKED_AT_NS] = max(now, 1)
                self._cells[row + Cell.LOCKOUTS] += 1

    def admit(self, name: str) -> bool:
        """The password of `name` was right: False if the account is locked out.

        An admitted logon resets the bad-password counter, as a successful logon does.
        """
        row = self._row(name)
        if row is None:
            return True  # no account of ours (a Kerberos principal from elsewhere): not judged
        with self._lock:
            if self._locked(row, self._clock_ns()):
                self._cells[row + Cell.FAILED_LOGONS] += 1
                return False
            self._cells[row + Cell.BAD_PASSWORDS] = 0
            return True

    def reset(self) -> None:
        """Unlock every account and forget every counter, as a fresh domain."""
        with self._lock:
            for i in range(len(self._cells)):
                self._cells[i] = 0

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            now = self._clock_ns()
            return {
                account.qualified: {
                    "bad_password_count": int(self._cells[row + Cell.BAD_PASSWORDS]),
                    "locked": self._locked(row, now),
                    "failed_logons": int(self._cells[row + Cell.FAILED_LOGONS]),
                    "lockouts": int(self._cells[row + Cell.LOCKOUTS]),
                }
                for account, row in self._rows.items()
            }

    def _row(self, name: str | None) -> int | None:
        account = _find(self._accounts, name) if name else None
        return self._rows.get(account) if account is not None else None

    def _locked(self, row: int, now: int) -> bool:
        """Whether the account is locked now; a lockout that has run its time is lifted."""
        locked_at = self._cells[row + Cell.LOCKED_AT_NS]
        if not locked_at:
            return False
        if self._duration_ns and now - locked_at >= self._duration_ns:
            self._cells[row + Cell.LOCKED_AT_NS] = 0
            self._cells[row + Cell.BAD_PASSWORDS] = 0
            return False
        return True


def _find(accounts: Accounts, name: str) -> Account | None:
    """The account a logon names, in any form a client or an acceptor writes it.

    CredSSP reports a UPN-form user with an empty domain (`\\admin@LAB`), Kerberos a
    principal (`admin@LAB.TEST`): both are the same account as `LAB\\admin`.
    """
    if name.startswith("\\"):
        name = name[1:]
    account = accounts.find(name)
    if account is None and "@" in name:
        user, _, realm = name.rpartition("@")
        account = accounts.find(f"{user}@{realm.split('.', 1)[0]}")
    return account

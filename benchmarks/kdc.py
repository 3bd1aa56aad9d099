"""The fleet's domain controller for Kerberos cases: a real MIT KDC (psfleet.testing.kdc).

Its HTTP/<host> keys go to the simulator (`psfleet sim --keytab`). Each case gets a
principal of its own, so the KDC log's lines that name it are that case's requests
alone: AS exchanges (a TGT from the password) and TGS requests (a service ticket per
host). krb5kdc runs on the simulator's CPUs: it is the server side of the run.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import psutil

from benchmarks.protocol import KDC_PASSWORD
from psfleet.testing.kdc import MitKdc

_SETTLE_S = 0.3  # krb5kdc logs a request just after answering it: wait until the log is quiet
_SETTLE_LIMIT_S = 5.0


def clean_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment without any KRB5* variable: a case sees its own realm or none, never
    the one of whoever runs the harness."""
    source = os.environ if base is None else base
    return {key: value for key, value in source.items() if not key.startswith("KRB5")}


@dataclass(frozen=True, slots=True)
class KdcRequests:
    as_exchanges: int  # AS_REQ lines for the principal, without the NEEDED_PREAUTH opener
    tgs_requests: int  # TGS_REQ lines for the principal and an HTTP/ service
    cpu_s: float  # krb5kdc's CPU over the case (measured section and teardown)

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"cpu_s": round(self.cpu_s, 3)}


def count_requests(lines: list[str], principal: str, cpu_s: float = 0.0) -> KdcRequests:
    """An AS exchange with pre-authentication is two AS_REQ lines: NEEDED_PREAUTH, then
    ISSUE (or the error); the first is not counted."""
    as_exchanges = sum(
        "AS_REQ" in line and f" {principal} for krbtgt/" in line and "NEEDED_PREAUTH" not in line
        for line in lines
    )
    tgs = sum("TGS_REQ" in line and f" {principal} for HTTP/" in line for line in lines)
    return KdcRequests(as_exchanges, tgs, cpu_s)


class FleetKdc:
    """`with FleetKdc(names, cpus=[1]) as kdc:` a running KDC with HTTP/<name> for each host."""

    def __init__(self, names: list[str], *, cpus: list[int] | None) -> None:
        self._names = names
        self._cpus = cpus
        self._kdc = MitKdc(timeout=120.0)
        self._process: psutil.Process | None = None
        self._users = itertools.count(1)

    def __enter__(self) -> FleetKdc:
        self._kdc.start()
        try:
            self._kdc.add_hosts(self._names)
            self._process = self._find_process()
            if self._cpus is not None:
                self._process.cpu_affinity(self._cpus)
        except BaseException:
            self._kdc.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._kdc.stop()

    @property
    def keytab(self) -> Path:
        return self._kdc.keytab

    def _find_process(self) -> psutil.Process:
        if self._kdc.pid is None:
            raise RuntimeError("krb5kdc is not running")
        return psutil.Process(self._kdc.pid)

    def new_user(self) -> str:
        """A principal of one case, with pre-authentication as a domain account has."""
        principal = f"bench{next(self._users)}@{self._kdc.realm}"
        self._kdc.add_user(principal, KDC_PASSWORD)
        return principal

    def server_env(self) -> dict[str, str]:
        """What the simulator's acceptor needs besides --keytab: the realm, a replay cache."""
        env = self._kdc.env
        return {"KRB5_CONFIG": env["KRB5_CONFIG"], "KRB5RCACHEDIR": env["KRB5RCACHEDIR"]}

    def client_env(self, scratch: Path) -> dict[str, str]:
        """The realm, and a default ccache of the case's own (empty): a client with a password
        gets its tickets itself, and never touches the caller's cache."""
        return {"KRB5_CONFIG": self._kdc.env["KRB5_CONFIG"], "KRB5CCNAME": f"FILE:{scratch}/cc"}

    def mark(self) -> tuple[int, float]:
        """Where the log and the KDC's CPU stand before a case."""
        return self._kdc.log_size(), self.cpu_s()

    def cpu_s(self) -> float:
        if self._process is None:
            return 0.0
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def requests(self, mark: tuple[int, float], principal: str) -> KdcRequests:
        """The principal's requests since `mark`, once the log has stopped growing."""
        start, cpu_before = mark
        deadline = time.monotonic() + _SETTLE_LIMIT_S
        size = self._kdc.log_size()
        while time.monotonic() < deadline:
            time.sleep(_SETTLE_S)
            now = self._kdc.log_size()
            if now == size:
                break
            size = now
        lines = self._kdc.log_lines(start)
        return count_requests(lines, principal, self.cpu_s() - cpu_before)

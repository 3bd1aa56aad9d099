"""The runtime state of one simulated host: its facts, auth policy, shells and quotas."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psfleet.simfleet.answers import AnswerCache
from psfleet.simfleet.auth import AuthPolicy, Identity
from psfleet.simfleet.config import Quotas
from psfleet.simfleet.faults import HostFault
from psfleet.simfleet.filesystem import HostFiles
from psfleet.simfleet.hostfacts import HostFacts, SessionContext
from psfleet.simfleet.psrp_shell import PsrpShell
from psfleet.simfleet.stats import Counter, FleetStats
from psfleet.simfleet.winrs_shell import WinrsShell
from psfleet.wsman.faults import FaultCode

Shell = PsrpShell | WinrsShell


class QuotaFault(Exception):
    def __init__(self, code: FaultCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(eq=False)
class _Held:
    """A shell and what its idle timeout needs."""

    owner: str
    shell: Shell
    last_used: float
    polls: int = 0  # Receive long polls in progress: a polled shell is not idle
    resource_uri: str = ""
    idle_s: float | None = None  # the IdleTimeOut a Disconnect asked for, else the host's


@dataclass(eq=False)
class HostRuntime:
    facts: HostFacts
    port: int
    policy: AuthPolicy
    quotas: Quotas
    stats: FleetStats
    fault: HostFault
    shells: dict[str, _Held] = field(default_factory=dict)  # by ShellId
    answers: AnswerCache = field(default_factory=AnswerCache)  # replayed pipeline answers
    disk: Callable[[], HostFiles] | None = None  # makes the host's disk on first use
    _files: HostFiles | None = None

    def __post_init__(self) -> None:
        self.row = self.stats.row(self.facts.inventory_name)

    @property
    def files(self) -> HostFiles | None:
        if self._files is None and self.disk is not None:
            self._files = self.disk()
        return self._files

    def count_file_bytes(self, written: int, read: int) -> None:
        self.count(Counter.FILE_BYTES_WRITTEN, written)
        self.count(Counter.FILE_BYTES_READ, read)

    @property
    def name(self) -> str:
        return self.facts.inventory_name

    def count(self, counter: Counter, amount: int = 1) -> None:
        self.stats.add(self.row, counter, amount)

    def count_execution(self, replayed: bool) -> None:
        self.count(Counter.EXECUTIONS)
        if replayed:
            self.count(Counter.REPLAYED)

    def check_shell_quota(self, user: str) -> None:
        """Windows' MaxShellsPerUser and MaxConcurrentUsers, answered with its faults."""
        owners = [held.owner for held in self.shells.values()]
        if owners.count(user) >= self.quotas.max_shells_per_user:
            raise QuotaFault(
                FaultCode.QUOTA_MAX_SHELLS,
                "The WS-Management service cannot process the request. This user is allowed a "
                f"maximum number of {self.quotas.max_shells_per_user} concurrent shells, which "
                "has been exceeded. Close existing shells or raise the quota for this user.",
            )
        users = set(owners)
        if user not in users and len(users) >= self.quotas.max_concurrent_users:
            raise QuotaFault(
                FaultCode.QUOTA_MAX_SHELLUSERS,
                "The WS-Management service cannot process the request. The maximum number of "
                f"concurrent users ({self.quotas.max_concurrent_users}) for this service has been "
                "exceeded. Wait for other users to close their shells or raise the quota.",
            )

    def check_command_quota(self, shell: Shell) -> None:
        if shell.running_commands >= self.quotas.max_processes_per_shell:
            raise QuotaFault(
                FaultCode.QUOTA_MAX_OPERATIONS,
                "The WS-Management service cannot process the request. This shell is allowed a "
                f"maximum number of {self.quotas.max_processes_per_shell} concurrent processes, "
                "which has been exceeded. Close existing processes or raise the quota.",
            )

    def add_shell(self, owner: str, shell: Shell, resource_uri: str = "") -> None:
        self.shells[shell.shell_id] = _Held(owner, shell, time.monotonic(), 0, resource_uri)
        self.count(Counter.SHELLS_OPEN)
        self.count(Counter.SHELLS_OPENED)

    def find_shell(self, shell_id: str | None, owner: str) -> Shell | None:
        held = self.shells.get((shell_id or "").upper())
        # Another user's shell is as invisible as a missing one, as on Windows.
        if held is None or held.owner != owner:
            return None
        held.last_used = time.monotonic()
        return held.shell

    @contextmanager
    def polling(self, shell: Shell) -> Iterator[None]:
        """Hold the shell busy while a Receive waits on it, then count the wait as use."""
        held = self.shells.get(shell.shell_id)
        if held is None:
            yield
            return
        held.polls += 1
        try:
            yield
        finally:
            held.polls -= 1
            held.last_used = time.monotonic()

    def remove_shell(self, shell_id: str) -> None:
        held = self.shells.pop(shell_id, None)
        if held is not None:
            held.shell.close()
            self.count(Counter.SHELLS_OPEN, -1)

    def held_by(self, owner: str) -> list[_Held]:
        """The shells of one user (Enumerate lists no other user's)."""
        return [held for held in self.shells.values() if held.owner == owner]

    def polled(self, shell: Shell) -> bool:
        """A Receive long poll is waiting on the shell: its client is there."""
        held = self.shells.get(shell.shell_id)
        return held is not None and held.polls > 0

    def keep_disconnected(self, shell_id: str, idle_s: float | None) -> None:
        """A Disconnect's IdleTimeOut: how long the shell waits for a Connect, then goes."""
        held = self.shells.get(shell_id)
        if held is not None and idle_s is not None:
            held.idle_s = idle_s

    def close_idle(self, idle_s: float) -> None:
        """Windows' IdleTimeOut: close shells nobody used for idle_s seconds (or for the
        IdleTimeOut their Disconnect asked for)."""
        now = time.monotonic()
        for shell_id, held in list(self.shells.items()):
            limit = held.idle_s if held.idle_s is not None else idle_s
            if held.polls == 0 and held.last_used < now - limit:
                self.remove_shell(shell_id)

    def close_all(self) -> None:
        for shell_id in list(self.shells):
            self.remove_shell(shell_id)

    def session(
        self, identity: Identity, lookup: Callable[[str], HostFacts | None]
    ) -> SessionContext:
        return SessionContext(
            host=self.facts,
            user=identity.user,
            auth=identity.auth,
            delegable=identity.delegable,
            lookup=lookup,
            files=self.files,
        )


def new_shell_id() -> str:
    return str(uuid.uuid4()).upper()

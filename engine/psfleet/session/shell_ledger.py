"""Shells a run may have left open: Create was sent, and the Delete was never confirmed.

On Windows such a shell lingers until its idle timeout (hours) and counts against
MaxShellsPerUser, so the next run to that host can fail with quota faults: the user
must hear of it. A fan-out sets a ledger for its run (`recording`); a pool that
cannot confirm its Delete reports to the ledger of whoever is closing it. A context
variable carries the ledger because pools are opened and closed far below the
scheduler, including by `open_pool` itself when the open fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from psfleet.logs import get_logger

log = get_logger(__name__)


@dataclass(slots=True)
class ShellLedger:
    """Every (host, ShellId) whose deletion could not be confirmed; ShellId None if unknown."""

    shells: dict[tuple[str, str | None], None] = field(default_factory=dict)  # ordered set

    def add(self, host: str, shell_id: str | None) -> None:
        self.shells[(host, shell_id)] = None

    @property
    def hosts(self) -> tuple[str, ...]:
        """The hosts concerned, each once, in the order they were reported."""
        return tuple(dict.fromkeys(host for host, _ in self.shells))


_current: ContextVar[ShellLedger | None] = ContextVar("psfleet_shell_ledger", default=None)


@contextmanager
def recording(ledger: ShellLedger) -> Iterator[ShellLedger]:
    """Pools closed inside this block (and in tasks started inside it) report to `ledger`."""
    token = _current.set(ledger)
    try:
        yield ledger
    finally:
        _current.reset(token)


def report_possibly_open(host: str, shell_id: str | None) -> None:
    """Log the shell and add it to the current run's ledger, if there is one."""
    log.warning("shell possibly left open", host=host, shell_id=shell_id)
    ledger = _current.get()
    if ledger is not None:
        ledger.add(host, shell_id)

"""Where a fan-out runs: in this process (LocalExecutor) or on a cluster (psfleet.DaskExecutor).

An executor turns a FanOut (what to run, on which hosts, how) and the run's Emit (the one
ordered event stream the sinks consume) into a Runner. Whatever the executor, a run emits
HostStarted, RecordEvent, HostRetry, exactly one HostDone per host and a final RunSummary.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from psfleet.fanout.attempt import Emit
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult
from psfleet.fanout.scheduler import Scheduler
from psfleet.targets.model import Target
from psfleet.transport.credentials import CredentialBroker


@dataclass(frozen=True, slots=True)
class FanOut:
    """The same commands, with the same arguments, on every target."""

    targets: Sequence[Target]
    commands: Sequence[str]
    args: Sequence[Any]
    options: RunOptions  # as the caller gave them: the executor attaches credentials


class Runner(Protocol):
    async def run(self) -> FleetResult: ...

    def interrupt(self) -> None:
        """Stop the run: running pipelines stopped, pools closed, the rest cancelled."""


class Executor(Protocol):
    def runner(self, fanout: FanOut, emit: Emit) -> Runner: ...


def with_run_broker(options: RunOptions) -> tuple[RunOptions, CredentialBroker | None]:
    """One CredentialBroker for the run (a ticket per credential, one lockout guard); the
    broker is returned when the run made it and must close it, None when the caller's."""
    auth, broker = CredentialBroker.attach(options.client.auth, options.client.timeouts)
    if broker is None:
        return options, None
    client = dataclasses.replace(options.client, auth=auth)
    return dataclasses.replace(options, client=client), broker


@contextlib.contextmanager
def run_broker(options: RunOptions) -> Iterator[RunOptions]:
    """`with_run_broker` for a block: the broker the run made is closed at its end."""
    options, broker = with_run_broker(options)
    try:
        yield options
    finally:
        if broker is not None:
            broker.close()


class LocalExecutor:
    """Every host in this process, on this event loop: `psfleet run`'s default."""

    def runner(self, fanout: FanOut, emit: Emit) -> Runner:
        return _LocalRun(fanout, emit)


class _LocalRun:
    def __init__(self, fanout: FanOut, emit: Emit) -> None:
        options, self._broker = with_run_broker(fanout.options)
        self._scheduler = Scheduler(
            fanout.targets, fanout.commands, options, emit, args=fanout.args
        )

    def interrupt(self) -> None:
        self._scheduler.interrupt()

    async def run(self) -> FleetResult:
        try:
            return await self._scheduler.run()
        finally:
            if self._broker is not None:
                self._broker.close()

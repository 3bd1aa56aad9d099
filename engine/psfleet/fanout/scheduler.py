"""The scheduler: every host of a run through one task group, within the run's limits.

At most `throttle` hosts are in flight (the producer waits for a free slot before
starting the next host task, so thousands of hosts cost `throttle` tasks); each
host is retried with tenacity only while that is safe; every host ends with
exactly one HostDone, whatever happens, including interruption.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from psfleet.events import (
    Event,
    HostDone,
    HostRetry,
    HostStarted,
    RecordEvent,
)
from psfleet.fanout.attempt import Emit, HostWork, PoolSource, attempt_host
from psfleet.fanout.options import RunOptions
from psfleet.fanout.outcome import AttemptFailed, ScriptOutcome, should_retry
from psfleet.fanout.pools import FreshPools
from psfleet.fanout.result import FleetResult, HostResult
from psfleet.fanout.status import Happened, Stop, Verdict, final_status
from psfleet.fanout.summary import summarize
from psfleet.logs import get_logger
from psfleet.session.shell_ledger import ShellLedger, recording
from psfleet.targets.model import Target

log = get_logger("psfleet.run")

# How long after its deadline a host still busy cleaning up is reported `timeout` anyway:
# half of the promised second, the other half for a loaded event loop.
HOST_DONE_GRACE_S = 0.5


@dataclass(slots=True)
class _HostClock:
    """When a host started and how many attempts it made, shared with its deadline watch."""

    started: float = field(default_factory=time.monotonic)
    attempts: int = 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Scheduler:
    def __init__(
        self,
        targets: Sequence[Target],
        commands: Sequence[str],
        options: RunOptions,
        emit: Emit,
        *,
        args: Sequence[Any] = (),
        pools: PoolSource | None = None,
        work: HostWork | None = None,
    ) -> None:
        self.targets = list(targets)
        self._work = work or self._run_commands
        self.commands = list(commands)
        self.args = list(args)
        self.options = options
        self._sink = emit
        self._pools = pools or FreshPools(options)
        self._slots = anyio.Semaphore(options.throttle)
        self._interrupt = anyio.CancelScope()
        self._deadline = float("inf")
        self.result = FleetResult({t.name: HostResult(t.name) for t in self.targets})
        self._done: set[str] = set()

    async def _run_commands(self, target: Target, emit: Emit, pools: PoolSource) -> ScriptOutcome:
        return await attempt_host(target, self.commands, self.args, self.options, emit, pools)

    async def _emit(self, event: Event) -> None:
        if self.options.collect and isinstance(event, RecordEvent):
            self.result.hosts[event.host].records.append(event)
        await self._sink(event)

    def interrupt(self) -> None:
        """Stop the run: running pipelines are stopped, pools closed, the rest cancelled."""
        self.result.interrupted = True
        self._interrupt.cancel()

    async def run(self) -> FleetResult:
        started = time.monotonic()
        if self.options.run_timeout is not None:
            self._deadline = anyio.current_time() + self.options.run_timeout
        ledger = ShellLedger()
        try:
            with recording(ledger), self._interrupt, anyio.move_on_after(self.options.run_timeout):
                async with anyio.create_task_group() as group:
                    for target in self.targets:
                        await self._slots.acquire()
                        group.start_soon(self._host, target, name=f"host:{target.name}")
        finally:
            # Even when cancelled from outside, every host gets its one final status.
            with anyio.CancelScope(shield=True):
                for target in self.targets:
                    if target.name not in self._done:
                        verdict = final_status(self._happened(target.name, None))
                        await self._finish(target.name, verdict, 0.0, 0)
                self.result.wall_s = time.monotonic() - started
                self.result.shells_possibly_open = list(ledger.hosts)
                await self._emit(summarize(self.result))
        return self.result

    def _cut_off(self, host_deadline: anyio.CancelScope | None) -> tuple[Stop | None, float | None]:
        """Whether the run or the host's deadline stopped its work, and that limit's seconds."""
        if self.result.interrupted:
            return Stop.INTERRUPTED, None
        now = anyio.current_time()
        if now >= self._deadline:
            return Stop.RUN_DEADLINE, self.options.run_timeout
        if host_deadline is not None and (
            host_deadline.cancel_called or now >= host_deadline.deadline
        ):
            return Stop.HOST_DEADLINE, self.options.host_timeout
        return None, None

    async def _host(self, target: Target) -> None:
        try:
            limit = self.options.host_timeout
            if limit is None:
                await self._attempts(target, _HostClock(), limit)
            else:
                await self._within_deadline(target, limit)
        finally:
            self._slots.release()

    async def _within_deadline(self, target: Target, limit: float) -> None:
        """The host's HostDone comes within `limit` + grace, even while its cleanup goes on.

        At the deadline the attempt is cancelled and its cleanup (stop the pipeline, Delete
        the shell, close connections) runs shielded, bounded by the close timeout. The
        user's deadline is for the work: the cleanup is not taken out of it, and the host
        is not reported late for it either. The run still waits for every cleanup before
        its summary, which names any shell whose Delete was not confirmed.
        """
        clock = _HostClock()
        async with anyio.create_task_group() as group:
            group.start_soon(self._overdue, target, clock, limit)
            await self._attempts(target, clock, limit)
            group.cancel_scope.cancel()

    async def _overdue(self, target: Target, clock: _HostClock, limit: float) -> None:
        await anyio.sleep(limit + HOST_DONE_GRACE_S)
        verdict = final_status(Happened(target.name, stop=Stop.HOST_DEADLINE, limit_s=limit))
        with anyio.CancelScope(shield=True):
            await self._finish(target.name, verdict, clock.elapsed, clock.attempts)

    async def _attempts(self, target: Target, clock: _HostClock, limit: float | None) -> None:
        deadline = anyio.CancelScope(
            deadline=math.inf if limit is None else anyio.current_time() + limit
        )
        happened = Happened(target.name, stop=Stop.CANCELLED)
        try:
            await self._emit(HostStarted(target.name, 1))
            happened = await self._attempt_within(target, clock, deadline)
        except anyio.get_cancelled_exc_class():
            happened = self._happened(target.name, deadline)
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish(
                    target.name, final_status(happened), clock.elapsed, clock.attempts
                )

    async def _attempt_within(
        self, target: Target, clock: _HostClock, deadline: anyio.CancelScope
    ) -> Happened:
        """Attempt the host, retried while safe, until it ends or `deadline` cuts it off."""
        try:
            with deadline:
                async for attempt in self._retrying(target):
                    with attempt:
                        clock.attempts += 1
                        outcome = await self._work(target, self._emit, self._pools)
        except AttemptFailed as failed:
            return self._happened(target.name, deadline, error=failed.error, started=failed.started)
        except Exception as exc:  # a bug of ours: report it on this host, keep the run going
            log.exception("host task failed", host=target.name)
            return self._happened(target.name, deadline, error=exc)
        if deadline.cancelled_caught:
            return self._happened(target.name, deadline)
        return Happened(target.name, script=outcome)

    def _happened(
        self,
        host: str,
        host_deadline: anyio.CancelScope | None,
        *,
        error: BaseException | None = None,
        started: bool = False,
    ) -> Happened:
        """A host that got no result: its error, if any, and what cut its work off, if anything.

        Without an error, something did: an outside cancellation when nothing else explains it.
        """
        stop, limit = self._cut_off(host_deadline)
        if stop is None and error is None:
            stop = Stop.CANCELLED
        return Happened(host, error=error, started=started, stop=stop, limit_s=limit)

    def _retrying(self, target: Target) -> AsyncRetrying:
        async def announce(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            error = failure.error if isinstance(failure, AttemptFailed) else failure
            delay = state.next_action.sleep if state.next_action else 0.0
            log.info("retry", host=target.name, attempt=state.attempt_number, error=repr(error))
            await self._emit(
                HostRetry(
                    target.name,
                    state.attempt_number + 1,
                    type(error).__name__,
                    str(error),
                    delay,
                )
            )

        return AsyncRetrying(
            stop=stop_after_attempt(self.options.retries + 1),
            wait=wait_exponential_jitter(multiplier=0.5, max=10.0, jitter=0.5),
            retry=retry_if_exception(
                lambda exc: should_retry(exc, retry_started=self.options.retry_started)
            ),
            before_sleep=announce,
            sleep=anyio.sleep,
            reraise=True,
        )

    async def _finish(self, host: str, verdict: Verdict, duration: float, attempts: int) -> None:
        if host in self._done:
            return
        self._done.add(host)
        result = self.result.hosts[host]
        result.status, result.duration_s, result.attempts = verdict.status, duration, attempts
        result.error_type, result.error_message = verdict.error_type, verdict.message
        result.remedy = verdict.remedy
        log.info("host done", host=host, status=verdict.status.value, attempts=attempts)
        await self._emit(
            HostDone(
                host,
                verdict.status,
                round(duration, 6),
                attempts,
                verdict.error_type,
                verdict.message,
                verdict.remedy,
            )
        )

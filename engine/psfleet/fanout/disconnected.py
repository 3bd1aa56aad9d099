"""Disconnected runs: start a command on every host and leave it running there
(`Invoke-Command -InDisconnectedSession`), then collect it later from any process
(`Receive-PSSession`).

The pool and pipeline ids are chosen before anything is sent, so the caller can record
them first: a client that dies at any point leaves every host addressable. Starting is
one attempt per host (a failure to start is that host's final status); receiving ends
each host with the pipeline's own outcome, or `lost` when the host no longer has the pool.
"""

from __future__ import annotations

import dataclasses
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from psfleet import errors
from psfleet.client import new_pool, reconnect_pool
from psfleet.events import HostDone, HostStarted, HostStatus, RecordEvent, RunSummary, Stream
from psfleet.fanout.attempt import Emit, client_options_for, endpoint_for
from psfleet.fanout.executor import run_broker
from psfleet.fanout.options import RunOptions
from psfleet.fanout.outcome import ScriptOutcome, is_retryable
from psfleet.fanout.status import Happened, Stop, Verdict, final_status
from psfleet.logs import get_logger
from psfleet.session.pool import RunspacePool
from psfleet.session.records import PipelineState
from psfleet.targets.model import Target

NEVER_STARTED = "NeverStarted"  # the error_type of a host the start never came to
_NEVER_STARTED = Verdict(
    HostStatus.CANCELLED,
    NEVER_STARTED,
    "never started: the client that ran --disconnected stopped before this host's turn",
    "run it again: psfleet run --rerun RUN:cancelled",
)
_LEFT_RUNNING = "its command was left running on the host: psfleet receive again collects the rest"
log = get_logger("psfleet.disconnected")


@dataclass(frozen=True, slots=True)
class Session:
    """Where one host's command runs: its pool (ShellId) and pipeline (CommandId)."""

    pool_id: uuid.UUID
    pipeline_id: uuid.UUID
    # Whether the start came to this host (HostStarted, before its Create): a pool the
    # host does not know, never tried, was never made, not lost.
    attempted: bool = True

    @classmethod
    def new(cls) -> Session:
        return cls(uuid.uuid4(), uuid.uuid4())


def one_script(scripts: Sequence[str]) -> str:
    """Several commands as the one script of a disconnected pipeline, in order: they share
    their variables and `$args` as a run's commands share their runspace, and a terminating
    error ends the rest as it stops a run's later commands. A `param()` block only first."""
    return "\n".join(scripts)


async def start_disconnected(
    targets: Sequence[Target],
    sessions: Mapping[str, Session],
    script: str,
    args: Sequence[Any],
    options: RunOptions,
    emit: Emit,
    *,
    idle_timeout_s: float | None = None,
) -> list[str]:
    """Start `script` on every target and disconnect; returns the hosts it runs on.

    One credential broker for all hosts, as for a run: one ticket, one KDC probe, one
    lockout guard.
    """
    with run_broker(options) as brokered:
        return await _start_all(targets, sessions, script, args, brokered, emit, idle_timeout_s)


async def _start_all(
    targets: Sequence[Target],
    sessions: Mapping[str, Session],
    script: str,
    args: Sequence[Any],
    options: RunOptions,
    emit: Emit,
    idle_timeout_s: float | None,
) -> list[str]:
    """Start every host.

    Opening a host's pool is retried as a run retries (`options.retries`, retryable
    failures only): nothing has started then. `options.host_timeout` (from when the host's
    turn comes) and `options.run_timeout` bound each host's start; one cut off ends
    `timeout` on time, and its pool is deleted after. A host that could not be started
    gets its final status (HostDone) now. Cancelled (Ctrl-C), hosts whose command started
    are left disconnected (no HostDone: a receive collects them); the others are closed
    and end `cancelled`.
    """
    started: list[str] = []
    ended: set[str] = set()
    limiter = anyio.CapacityLimiter(options.throttle)
    run_deadline = _deadline(options.run_timeout)

    async def one(target: Target) -> None:
        async with limiter:
            begun = time.monotonic()
            deadline, stop, limit_s = _host_deadline(run_deadline, options)
            session = sessions[target.name]
            pool: RunspacePool | None = None
            verdict: Verdict | None = None
            attempts = 0
            try:
                try:
                    with anyio.CancelScope(deadline=deadline) as scope:
                        async for attempt in _retrying(options):
                            with attempt:
                                attempts += 1
                                await emit(HostStarted(target.name, attempts))  # before Create
                                if pool is not None:
                                    await pool.aclose()  # the failed attempt's
                                client = client_options_for(target, options.client)
                                endpoint = endpoint_for(target, options)
                                pool = new_pool(endpoint, client, session.pool_id)
                                await pool.open()
                        assert pool is not None  # the last attempt opened it
                        await _start(pool, session, script, args, idle_timeout_s)
                        started.append(target.name)  # no checkpoint since the disconnect
                except errors.PsfleetError as exc:
                    verdict = final_status(Happened(target.name, error=exc))
                if scope.cancelled_caught and target.name not in started:
                    verdict = final_status(Happened(target.name, stop=stop, limit_s=limit_s))
                if verdict is not None:
                    ended.add(target.name)  # reported on time: the Delete below is cleanup
                    await emit(_done(target.name, verdict, time.monotonic() - begun, attempts))
            finally:  # Ctrl-C too: a pool not left disconnected is deleted (shielded);
                if pool is not None:  # nothing to do for a disconnected one
                    await pool.aclose()

    try:
        async with anyio.create_task_group() as group:
            for target in targets:
                group.start_soon(one, target)
    finally:
        with anyio.CancelScope(shield=True):
            for target in targets:
                if target.name not in started and target.name not in ended:
                    verdict = final_status(Happened(target.name, stop=Stop.INTERRUPTED))
                    await emit(_done(target.name, verdict, 0.0, 0))
    return started


def _retrying(options: RunOptions) -> AsyncRetrying:
    """The scheduler's retry pacing, for opening a pool (before any command)."""
    return AsyncRetrying(
        stop=stop_after_attempt(options.retries + 1),
        wait=wait_exponential_jitter(multiplier=0.5, max=10.0, jitter=0.5),
        retry=retry_if_exception(
            lambda exc: isinstance(exc, errors.PsfleetError) and is_retryable(exc)
        ),
        sleep=anyio.sleep,
        reraise=True,
    )


async def _start(
    pool: RunspacePool,
    session: Session,
    script: str,
    args: Sequence[Any],
    idle_timeout_s: float | None,
) -> None:
    """Start the command and leave it running; a pool left connected is the caller's to
    delete (a failed Disconnect included: the command must not run unobserved)."""
    pipeline = pool.pipeline(script, *args, pipeline_id=session.pipeline_id)
    await pipeline.start()
    await pool.disconnect(idle_timeout_s)  # shielded: a Ctrl-C now still disconnects


async def receive_disconnected(
    targets: Sequence[Target],
    sessions: Mapping[str, Session],
    options: RunOptions,
    emit: Emit,
    *,
    idle_timeout_s: float | None = None,
) -> RunSummary:
    """Connect to every host's pool, stream its records, end each host with one status.

    `options.host_timeout` (from when the host's turn comes) and `options.run_timeout` bound
    each host: one cut off ends `timeout`, and its pool is disconnected again with its
    command still running, for a later receive to collect the rest; so is every pool this
    receive holds when it is cancelled (Ctrl-C). Disconnected again, a pool is kept for
    `idle_timeout_s`: the IdleTimeOut its run asked for (None: the one the host holds).
    One credential broker for all hosts, as for a run.
    """
    with run_broker(options) as brokered:
        return await _receive_all(targets, sessions, brokered, emit, idle_timeout_s)


async def _receive_all(
    targets: Sequence[Target],
    sessions: Mapping[str, Session],
    options: RunOptions,
    emit: Emit,
    idle_timeout_s: float | None,
) -> RunSummary:
    limiter = anyio.CapacityLimiter(options.throttle)
    counts = {status: 0 for status in HostStatus}
    durations: dict[str, float] = {}
    begun = time.monotonic()
    run_deadline = _deadline(options.run_timeout)

    async def one(target: Target) -> None:
        async with limiter:
            started = time.monotonic()
            deadline, stop, limit_s = _host_deadline(run_deadline, options)
            cut_off = _cut_off(target.name, stop, limit_s)

            async def finish(verdict: Verdict) -> None:
                durations[target.name] = time.monotonic() - started
                counts[verdict.status] += 1
                await emit(_done(target.name, verdict, durations[target.name]))

            await _receive(
                target, sessions[target.name], options, emit, deadline, cut_off, finish,
                idle_timeout_s,
            )  # fmt: skip

    async with anyio.create_task_group() as group:
        for target in targets:
            group.start_soon(one, target)
    slowest = sorted(durations.items(), key=lambda item: -item[1])[:5]
    summary = RunSummary(counts=counts, wall_s=time.monotonic() - begun, slowest=tuple(slowest))
    await emit(summary)
    return summary


def _deadline(seconds: float | None) -> float:
    return math.inf if seconds is None else anyio.current_time() + seconds


def _host_deadline(run_deadline: float, options: RunOptions) -> tuple[float, Stop, float | None]:
    """A host's deadline, from when its turn comes: the sooner of its own and the run's,
    with what it stops and that limit's seconds."""
    host_deadline = _deadline(options.host_timeout)
    if run_deadline <= host_deadline:
        return run_deadline, Stop.RUN_DEADLINE, options.run_timeout
    return host_deadline, Stop.HOST_DEADLINE, options.host_timeout


def _cut_off(host: str, stop: Stop, limit_s: float | None) -> Verdict:
    verdict = final_status(Happened(host, stop=stop, limit_s=limit_s))
    return dataclasses.replace(verdict, remedy=_LEFT_RUNNING)


async def _receive(
    target: Target,
    session: Session,
    options: RunOptions,
    emit: Emit,
    deadline: float,
    cut_off: Verdict,
    finish: Callable[[Verdict], Awaitable[None]],
    idle_timeout_s: float | None,
) -> None:
    """Collect one host; at `deadline`, end it with `cut_off` and leave its pool disconnected."""
    client = client_options_for(target, options.client)
    pool: RunspacePool | None = None
    verdict = cut_off
    try:
        with anyio.CancelScope(deadline=deadline) as scope:
            try:
                pool = await reconnect_pool(endpoint_for(target, options), client, session.pool_id)
            except errors.PsfleetError as exc:
                verdict = _reattach_failed(target.name, session, exc)
            else:
                verdict = await _collect(target, pool, session, emit)
    except BaseException:  # the receive itself stopped (Ctrl-C): the output is still owed
        if pool is not None:
            await _leave(pool, idle_timeout_s)
        raise
    if scope.cancelled_caught:
        verdict = cut_off
        await finish(verdict)  # on time: the disconnect below is cleanup, not the host's work
        if pool is not None:
            await _leave(pool, idle_timeout_s)
        return
    if pool is not None:
        await pool.aclose()
    await finish(verdict)


def _reattach_failed(host: str, session: Session, error: errors.PsfleetError) -> Verdict:
    if isinstance(error, errors.ShellNotFound) and not session.attempted:
        return _NEVER_STARTED
    return final_status(Happened(host, error=error, reattaching=True))


async def _collect(target: Target, pool: RunspacePool, session: Session, emit: Emit) -> Verdict:
    outcome = ScriptOutcome()
    try:
        pipeline = pool.attach(session.pipeline_id)
        async for record in pipeline:
            if record.stream is Stream.ERROR:
                outcome.add_error(record.data)
            await emit(RecordEvent(target.name, record.stream, record.data))
        if pipeline.state is PipelineState.FAILED:
            outcome.terminating = pipeline.reason or "the pipeline failed"
            if pipeline.reason is not None:
                await emit(RecordEvent(target.name, Stream.ERROR, pipeline.reason))
    except errors.PsfleetError as exc:
        return final_status(Happened(target.name, error=exc, started=True, reattaching=True))
    return final_status(Happened(target.name, script=outcome))


async def _leave(pool: RunspacePool, idle_timeout_s: float | None) -> None:
    """Disconnect the pool again, its command running; never Delete it (its output is owed).

    With the run's IdleTimeOut asked again, not the host's default. None (the run chose
    none): a Disconnect without one leaves the host's IdleTimeOut for the shell unchanged
    (WSManDisconnectShell: "If this parameter is NULL, the server session idle time-out
    will not be changed").
    """
    try:
        await pool.disconnect(idle_timeout_s)
    except errors.PsfleetError as exc:
        log.warning("disconnect after the deadline failed", host=pool.host, error=repr(exc))
        with anyio.CancelScope(shield=True):
            await pool.transport.aclose()


def _done(host: str, verdict: Verdict, duration_s: float, attempts: int = 1) -> HostDone:
    return HostDone(
        host,
        verdict.status,
        round(duration_s, 6),
        attempts,
        verdict.error_type,
        verdict.message,
        verdict.remedy,
    )

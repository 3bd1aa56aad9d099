"""Disconnected runs: start a command on every host and leave it running there
(`Invoke-Command -InDisconnectedSession`), then collect it later from any process
(`Receive-PSSession`).

The pool and pipeline ids are chosen before anything is sent, so the caller can record
them first: a client that dies at any point leaves every host addressable. Starting is
one attempt per host (a failure to start is that host's final status); receiving ends
each host with the pipeline's own outcome, or `lost` when the host no longer has the pool.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from psfleet import errors
from psfleet.client import open_pool, reconnect_pool
from psfleet.events import HostDone, HostStatus, RecordEvent, RunSummary, Stream
from psfleet.fanout.attempt import Emit, client_options_for, endpoint_for
from psfleet.fanout.options import RunOptions
from psfleet.fanout.outcome import ScriptOutcome
from psfleet.fanout.status import Happened, Verdict, final_status
from psfleet.session.records import PipelineState
from psfleet.targets.model import Target


@dataclass(frozen=True, slots=True)
class Session:
    """Where one host's command runs: its pool (ShellId) and pipeline (CommandId)."""

    pool_id: uuid.UUID
    pipeline_id: uuid.UUID

    @classmethod
    def new(cls) -> Session:
        return cls(uuid.uuid4(), uuid.uuid4())


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

    A host that could not be started gets its final status (HostDone) now.
    """
    started: list[str] = []
    limiter = anyio.CapacityLimiter(options.throttle)

    async def one(target: Target) -> None:
        async with limiter:
            session = sessions[target.name]
            begun = time.monotonic()
            try:
                await _start(target, session, script, args, options, idle_timeout_s)
            except errors.PsfleetError as exc:
                verdict = final_status(Happened(target.name, error=exc))
                await emit(_done(target.name, verdict, time.monotonic() - begun))
                return
            started.append(target.name)

    async with anyio.create_task_group() as group:
        for target in targets:
            group.start_soon(one, target)
    return started


async def _start(
    target: Target,
    session: Session,
    script: str,
    args: Sequence[Any],
    options: RunOptions,
    idle_timeout_s: float | None,
) -> None:
    client = client_options_for(target, options.client)
    pool = await open_pool(endpoint_for(target, options), client, session.pool_id)
    try:
        pipeline = pool.pipeline(script, *args, pipeline_id=session.pipeline_id)
        await pipeline.start()
        await pool.disconnect(idle_timeout_s)
    except BaseException:
        await pool.aclose()  # not started, or not disconnected: nothing is left behind
        raise


async def receive_disconnected(
    targets: Sequence[Target], sessions: Mapping[str, Session], options: RunOptions, emit: Emit
) -> RunSummary:
    """Connect to every host's pool, stream its records, end each host with one status."""
    limiter = anyio.CapacityLimiter(options.throttle)
    counts = {status: 0 for status in HostStatus}
    durations: dict[str, float] = {}
    begun = time.monotonic()

    async def one(target: Target) -> None:
        async with limiter:
            started = time.monotonic()
            verdict = await _receive(target, sessions[target.name], options, emit)
            durations[target.name] = time.monotonic() - started
            counts[verdict.status] += 1
            await emit(_done(target.name, verdict, durations[target.name]))

    async with anyio.create_task_group() as group:
        for target in targets:
            group.start_soon(one, target)
    slowest = sorted(durations.items(), key=lambda item: -item[1])[:5]
    summary = RunSummary(counts=counts, wall_s=time.monotonic() - begun, slowest=tuple(slowest))
    await emit(summary)
    return summary


async def _receive(target: Target, session: Session, options: RunOptions, emit: Emit) -> Verdict:
    client = client_options_for(target, options.client)
    try:
        pool = await reconnect_pool(endpoint_for(target, options), client, session.pool_id)
    except errors.PsfleetError as exc:
        return final_status(Happened(target.name, error=exc, reattaching=True))
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
    finally:
        await pool.aclose()
    return final_status(Happened(target.name, script=outcome))


def _done(host: str, verdict: Verdict, duration_s: float) -> HostDone:
    return HostDone(
        host,
        verdict.status,
        round(duration_s, 6),
        1,
        verdict.error_type,
        verdict.message,
        verdict.remedy,
    )

"""The worker's side: one Dask task runs psfleet's own fan-out over a chunk of hosts.

The task runs in a thread of the worker's executor, and the fan-out on the worker process's
own psfleet event loop (ondask.worker_loop, a thread of its own, with the process's
credential broker): the worker's loop (heartbeats, transfers) never waits on a host. Events
leave in batches on the run's Dask topic while the chunk runs. Before a host's first command
the worker records the host at the scheduler (a claim), so that if this worker dies the
client knows which hosts never started a command (run again elsewhere) and which may have.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from psfleet.errors import UsageError
from psfleet.events import Event, RunSummary
from psfleet.fanout.ondask.inbox import WINDOW
from psfleet.fanout.ondask.wire import (
    METADATA_ROOT,
    ChunkReport,
    ChunkSpec,
    PasswordSource,
    credit_key,
    encode_batch,
    stop_event,
    topic,
)
from psfleet.fanout.ondask.worker_logs import ChunkLogs, capturing
from psfleet.fanout.ondask.worker_loop import process_loop
from psfleet.fanout.options import RunOptions
from psfleet.fanout.pools import FreshPools
from psfleet.fanout.result import FleetResult
from psfleet.fanout.scheduler import Scheduler
from psfleet.session.pool import RunspacePool
from psfleet.targets.model import Target
from psfleet.transport.options import Credential

# A batch leaves when it holds this many events, or when flush_s has passed.
MAX_BATCH = 512
# How long one wait for the client's stop lasts: a chunk sees Ctrl-C within about this.
STOP_POLL_S = 0.5
# How long a chunk waits for the client's merge to catch up before it sends anyway.
CREDIT_WAIT_S = 30.0


def run_chunk(spec: ChunkSpec) -> ChunkReport:
    """The Dask task. Returns once every host of the chunk has its HostDone published."""
    from distributed import Event as DaskEvent  # noqa: PLC0415 (the optional extra)
    from distributed import get_client, get_worker  # noqa: PLC0415

    worker, client = get_worker(), get_client()
    began = [METADATA_ROOT, spec.run_id, "began", spec.chunk_id]
    # Dask runs a task again when its worker dies; the client decides what runs again.
    if client.get_metadata(began, None) is not None:
        return ChunkReport(spec.chunk_id, worker.address, 0, superseded=True)
    client.set_metadata(began, worker.address)
    stop = DaskEvent(stop_event(spec.run_id), client=client)
    if stop.is_set():
        return ChunkReport(spec.chunk_id, worker.address, 0)
    options = _worker_options(spec, worker.address)
    publish = Publisher(
        lambda message: worker.log_event(topic(spec.run_id), message),
        spec,
        worker.address,
        lambda: int(client.get_metadata(credit_key(spec.run_id, spec.chunk_id), 0)),
        ChunkLogs(spec.log_level, _secrets(options)),
    )
    rounds = itertools.count()

    def claim(hosts: list[str]) -> None:
        client.set_metadata(
            [METADATA_ROOT, spec.run_id, "claims", spec.chunk_id, str(next(rounds))], hosts
        )

    result = process_loop().call(_fan_out, spec, options, publish, claim, stop.wait)
    return ChunkReport(
        spec.chunk_id, worker.address, publish.sent, False, tuple(result.shells_possibly_open)
    )


class Publisher:
    """The chunk's Emit: events wait at most flush_s, then leave as one topic message.

    Flow control: a batch leaves only while fewer than WINDOW batches of the chunk are
    unmerged on the client (`merged` asks the scheduler how many it merged; asked only when
    the window looks full). Meanwhile `emit` waits once MAX_BATCH events are pending, so
    the chunk's hosts wait too: at most MAX_BATCH + throttle events pend here.
    """

    def __init__(
        self,
        send: Callable[[dict[str, Any]], None],
        spec: ChunkSpec,
        worker: str,
        merged: Callable[[], int],
        logs: ChunkLogs | None = None,
    ) -> None:
        self._send = send
        self.logs = logs if logs is not None else ChunkLogs(spec.log_level)
        self._merged = merged
        self._chunk_id = spec.chunk_id
        self.flush_s = spec.flush_s
        self.worker = worker
        self.sent = 0
        self._merged_seen = 0
        self._pending: list[Event] = []
        self._credit = anyio.Lock()

    async def emit(self, event: Event) -> None:
        if isinstance(event, RunSummary):
            return  # the client sums the chunks up into the run's one summary
        self._pending.append(event)
        if len(self._pending) >= MAX_BATCH:
            await self.flush_within_window()

    async def flush_within_window(self) -> None:
        """Flush once the client's merge is within WINDOW batches of this chunk's sends.

        A client silent for CREDIT_WAIT_S (gone, or stuck) no longer holds the chunk up:
        its inbox's own bound applies then.
        """
        async with self._credit:
            with anyio.move_on_after(CREDIT_WAIT_S):
                while self.sent - self._merged_seen >= WINDOW:
                    self._merged_seen = await anyio.to_thread.run_sync(self._merged)
                    if self.sent - self._merged_seen >= WINDOW:
                        await anyio.sleep(self.flush_s)
            self.flush()

    def flush(self) -> None:
        """Worker.log_event only queues the message for the worker's loop: it never blocks."""
        if not self._pending and not self.logs.waiting():
            return
        events, self._pending = self._pending, []
        logs, dropped = self.logs.take()
        self._send(encode_batch(self._chunk_id, self.sent, self.worker, events, logs, dropped))
        self.sent += 1

    async def flushing(self) -> None:
        while True:
            await anyio.sleep(self.flush_s)
            await self.flush_within_window()


class ClaimingPools(FreshPools):
    """A host's pool is handed to its commands only once the scheduler has the host's claim.

    Claims made while one is on its way go together in the next: one scheduler call per
    round, not per host.
    """

    def __init__(self, options: RunOptions, record: Callable[[list[str]], None]) -> None:
        super().__init__(options)
        self._record = record
        self._waiting: list[str] = []
        self._recorded: set[str] = set()
        self._lock = anyio.Lock()

    async def acquire(self, target: Target) -> RunspacePool:
        pool = await super().acquire(target)
        try:
            await self._claim(target.name)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await pool.aclose()
            raise
        return pool

    async def _claim(self, host: str) -> None:
        self._waiting.append(host)
        async with self._lock:
            if host in self._recorded:
                return
            hosts, self._waiting = self._waiting, []
            await anyio.to_thread.run_sync(self._record, hosts)
            self._recorded.update(hosts)


async def _fan_out(
    spec: ChunkSpec,
    options: RunOptions,
    publish: Publisher,
    claim: Callable[[list[str]], None],
    wait_stop: Callable[[float], bool],
) -> FleetResult:
    """The chunk's fan-out; its psfleet log records ride in its batches (captured from the
    loop's context: its tasks and their threads inherit it)."""
    with capturing(publish.logs):
        options = process_loop().with_broker(options)
        scheduler = Scheduler(
            spec.targets,
            spec.commands,
            options,
            publish.emit,
            args=spec.args,
            pools=ClaimingPools(options, claim),
        )

        async def watch_stop() -> None:
            while not await anyio.to_thread.run_sync(
                wait_stop, STOP_POLL_S, abandon_on_cancel=True
            ):
                pass
            scheduler.interrupt()

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(publish.flushing)
                group.start_soon(watch_stop)
                result = await scheduler.run()
                group.cancel_scope.cancel()
        finally:
            publish.flush()
        return result


def _secrets(options: RunOptions) -> tuple[str, ...]:
    """What a log record sent to the client must never hold: the password this worker read."""
    credential = options.client.auth.credential
    return (credential.password,) if credential is not None and credential.password else ()


def _worker_options(spec: ChunkSpec, worker: str) -> RunOptions:
    """The run's options with the password this worker holds, and the time left in the run."""
    options = spec.options
    if spec.deadline is not None:
        left = max(spec.deadline - time.time(), 0.001)
        options = dataclasses.replace(options, run_timeout=left)
    return with_worker_password(options, spec.password, worker)


def with_worker_password(
    options: RunOptions, source: PasswordSource | None, worker: str
) -> RunOptions:
    """The options with the password this worker reads from `source` (None: no password)."""
    if source is None:
        return options
    given = options.client.auth.credential
    username = given.username if given is not None else None
    credential = Credential(username, read_password(source, worker))
    auth = dataclasses.replace(options.client.auth, credential=credential)
    return dataclasses.replace(options, client=dataclasses.replace(options.client, auth=auth))


def read_password(source: PasswordSource, worker: str) -> str:
    if source.file is not None:
        try:
            return Path(source.file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UsageError(
                f"worker {worker}: cannot read the password file {source.file}: {exc.strerror}"
            ) from exc
    password = os.environ.get(source.env)
    if password is None:
        raise UsageError(
            f"worker {worker}: no password: set {source.env} in the worker's environment "
            "or give a password file readable on the worker"
        )
    return password


def password_problem(source: PasswordSource, dask_worker: Any) -> str | None:
    """Run on each worker before a run (Client.run): why it cannot read its password, or
    None. Only the reason travels back, never the password."""
    try:
        read_password(source, dask_worker.address)
    except UsageError as exc:
        return str(exc)
    return None

"""psfleet.DaskExecutor: the fan-out on a Dask distributed cluster.

Hosts go out in chunks, one Dask task per chunk (ondask.chunk runs psfleet's own fan-out
there); events come back in batches on the run's Dask topic while the chunks run and are
merged into the one stream the sinks consume (ondask.merge). A chunk whose worker died is
resolved by its claims: hosts that never started a command run again in a new chunk, hosts
whose command may have started end `lost` (run again only with retry_started).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import anyio

from psfleet.errors import PsfleetError, UsageError
from psfleet.events import HostDone, HostStatus
from psfleet.fanout.attempt import Emit
from psfleet.fanout.executor import FanOut, Runner
from psfleet.fanout.ondask.chunk import password_problem, run_chunk
from psfleet.fanout.ondask.delegation import outside_allowlist
from psfleet.fanout.ondask.inbox import ACK_EVERY, Inbox, inbox_limit
from psfleet.fanout.ondask.merge import Ledger
from psfleet.fanout.ondask.wire import (
    METADATA_ROOT,
    ChunkReport,
    ChunkSpec,
    PasswordSource,
    credit_key,
    stop_event,
    topic,
)
from psfleet.fanout.ondask.worker_loop import PLUGIN_NAME, close_with_the_worker
from psfleet.fanout.result import FleetResult
from psfleet.fanout.summary import summarize
from psfleet.targets.model import Target

EXTRA_HINT = "the Dask executor needs the dask extra: pip install 'psfleet[dask]'"
# A host is run again in a new chunk at most this often before it is reported lost.
MAX_ROUNDS = 3
# How long the client waits for a finished chunk's last batches before it calls them lost.
LATE_BATCHES_S = 30.0


def require_dask() -> None:
    try:
        import distributed  # noqa: F401, PLC0415
    except ImportError as exc:
        raise UsageError(EXTRA_HINT) from exc


def chunk_size_for(hosts: int, throttle: int, slots: int) -> int:
    """Each worker thread takes about four chunks (a lost worker costs one; the last
    chunks even out), and a chunk holds at least two throttles of hosts so its worker
    keeps `throttle` hosts in flight until near its end."""
    return max(2 * throttle, math.ceil(hosts / (4 * max(slots, 1))))


class DaskExecutor:
    """Run on the cluster a (synchronous) distributed.Client is connected to.

    The client never sends a password: each worker reads it from `password_file` (a path
    on the worker) or its own PSFLEET_PASSWORD; Kerberos uses the worker's ticket cache.
    The workers read one whenever the credential carries a password (removed before it is
    sent), `password_file` is given, or `password_on_workers` (the credential may then be
    a user name alone: this process needs no password at all).
    `throttle` applies per chunk, so per worker when workers run one thread (--nthreads 1).
    """

    def __init__(
        self,
        client: Any,
        *,
        chunk_size: int | None = None,
        password_file: str | None = None,
        flush_s: float = 0.25,
        password_on_workers: bool = False,
    ) -> None:
        require_dask()
        if getattr(client, "asynchronous", False):
            raise UsageError("DaskExecutor needs a synchronous distributed.Client")
        if chunk_size is not None and chunk_size < 1:
            raise UsageError("--chunk-size must be at least 1")
        self.client = client
        self.chunk_size = chunk_size
        self.password_file = password_file
        self.flush_s = flush_s
        self.password_on_workers = password_on_workers

    def runner(self, fanout: FanOut, emit: Emit) -> Runner:
        return DaskRun(self, fanout, emit)


def without_secrets(
    fanout: FanOut, password_file: str | None, password_on_workers: bool = False
) -> tuple[Any, PasswordSource | None]:
    """The options as they may travel: no password, no broker; and where workers find it."""
    if any(t.secrets for t in fanout.targets):
        raise UsageError(
            "inventory secrets (ansible_password) are not sent to Dask workers: give the "
            "password to the workers (PSFLEET_PASSWORD or --password-file)"
        )
    auth = fanout.options.client.auth
    credential = auth.credential
    source = None
    on_workers = password_on_workers and credential is not None and credential.username is not None
    if credential is not None and (credential.password is not None or password_file or on_workers):
        source = PasswordSource(file=password_file)
        credential = dataclasses.replace(credential, password=None)
    auth = dataclasses.replace(auth, credential=credential, broker=None)
    options = dataclasses.replace(
        fanout.options, client=dataclasses.replace(fanout.options.client, auth=auth), collect=False
    )
    return options, source


class DaskRun:
    def __init__(self, executor: DaskExecutor, fanout: FanOut, emit: Emit) -> None:
        self._client = executor.client
        self._executor = executor
        self._fanout = fanout
        self._options, self._password = without_secrets(
            fanout, executor.password_file, executor.password_on_workers
        )
        self._run_id = uuid.uuid4().hex
        self._ledger = Ledger(fanout.targets, emit, collect=fanout.options.collect)
        self._emit = emit
        self._stop = anyio.Event()
        self._interrupted = False
        self._deadline: float | None = None
        self._specs: dict[str, ChunkSpec] = {}
        self._rounds: dict[str, int] = {}
        self._finished: dict[str, tuple[ChunkReport, float]] = {}  # waiting for late batches
        self._credited: dict[str, int] = {}  # the merged count last told to each chunk
        self._shells: list[str] = []
        self._chunks = 0
        # Workers send back their psfleet log records at the level this process listens at.
        self._log_level = logging.getLogger("psfleet").getEffectiveLevel()

    def interrupt(self) -> None:
        self._interrupted = True
        self._stop.set()

    async def run(self) -> FleetResult:
        started = time.monotonic()
        timeout = self._fanout.options.run_timeout
        if timeout is not None:
            self._deadline = time.time() + timeout
        # Before anything runs: a worker that cannot read the password is a usage error.
        await anyio.to_thread.run_sync(self._check_worker_passwords)
        try:
            slots = await anyio.to_thread.run_sync(self._prepare_workers)
            inbox = Inbox(inbox_limit(slots))
            async with anyio.create_task_group() as group:
                post = _poster(inbox)
                await anyio.to_thread.run_sync(
                    self._client.subscribe_topic,
                    topic(self._run_id),
                    lambda event: post(("batch", event[1])),
                )
                try:
                    group.start_soon(self._stop_on_request)
                    await self._submit_all(slots, post)
                    await self._merge(inbox, post)
                finally:
                    group.cancel_scope.cancel()
                    with anyio.CancelScope(shield=True):
                        await anyio.to_thread.run_sync(self._forget_run)
        finally:
            with anyio.CancelScope(shield=True):
                await self._conclude(started)
        return self._ledger.result

    async def _submit_all(self, slots: int, post: Callable[[tuple[str, Any]], None]) -> None:
        refused = outside_allowlist(self._fanout.targets, self._fanout.options)
        for done in refused:
            await self._ledger.finish(done)
        refused_hosts = {done.host for done in refused}
        targets = [t for t in self._fanout.targets if t.name not in refused_hosts]
        size = self._executor.chunk_size
        if size is None:
            size = chunk_size_for(len(targets), self._options.throttle, slots)
        for start in range(0, len(targets), size):
            await self._submit(targets[start : start + size], 0, post)

    def _check_worker_passwords(self) -> None:
        if self._password is None:
            return
        answers: dict[str, str | None] = self._client.run(password_problem, self._password)
        problems = sorted(problem for problem in answers.values() if problem)
        if problems:
            raise UsageError("; ".join(problems))

    def _prepare_workers(self) -> int:
        """The cluster's worker threads; each worker closes its psfleet loop when it ends."""
        self._client.register_plugin(close_with_the_worker(), name=PLUGIN_NAME)
        # nthreads() lists every worker (scheduler_info() may list only the first few).
        threads: dict[str, int] = self._client.nthreads()
        return sum(threads.values())

    async def _submit(
        self, targets: list[Target], round_: int, post: Callable[[tuple[str, Any]], None]
    ) -> None:
        chunk_id = f"c{self._chunks}"
        self._chunks += 1
        spec = ChunkSpec(
            self._run_id,
            chunk_id,
            targets,
            self._fanout.commands,
            self._fanout.args,
            self._options,
            self._password,
            self._deadline,
            self._executor.flush_s,
            self._log_level,
        )
        self._specs[chunk_id] = spec
        self._rounds[chunk_id] = round_

        def submit() -> None:
            future = self._client.submit(
                run_chunk, spec, key=f"psfleet-{self._run_id}-{chunk_id}", pure=False
            )
            future.add_done_callback(lambda done: post(("done", (chunk_id, done))))

        await anyio.to_thread.run_sync(submit)

    async def _merge(self, inbox: Inbox, post: Callable[[tuple[str, Any]], None]) -> None:
        while self._specs:
            message = None
            with anyio.move_on_after(1.0):  # only the wait: never cut a merge in half
                message = await inbox.get()
            if message is not None:
                kind, payload = message
                if kind in ("batch", "control"):
                    await self._ledger.take(payload)
                    await self._grant_credit(payload.chunk_id)
                else:
                    chunk_id, future = payload
                    await self._chunk_ended(chunk_id, future, post)
            await self._settle_finished()

    async def _grant_credit(self, chunk_id: str) -> None:
        """Tell the chunk's worker how far the merge got: it sends WINDOW batches past it."""
        merged = self._ledger.received(chunk_id)
        if merged - self._credited.get(chunk_id, 0) < ACK_EVERY:
            return
        self._credited[chunk_id] = merged
        key = credit_key(self._run_id, chunk_id)
        await anyio.to_thread.run_sync(self._client.set_metadata, key, merged)

    async def _chunk_ended(
        self, chunk_id: str, future: Any, post: Callable[[tuple[str, Any]], None]
    ) -> None:
        from distributed import KilledWorker  # noqa: PLC0415 (the optional extra)

        try:
            report: ChunkReport = await anyio.to_thread.run_sync(future.result)
        except (KilledWorker, concurrent.futures.CancelledError):
            await self._recover(chunk_id, post)  # Dask gave up on the task after worker deaths
            return
        except Exception as exc:
            await self._fail_chunk(chunk_id, exc)
            return
        if report.superseded:
            await self._recover(chunk_id, post)
            return
        self._finished[chunk_id] = (report, time.monotonic() + LATE_BATCHES_S)

    async def _settle_finished(self) -> None:
        """A finished chunk is done once every batch it published has been merged."""
        for chunk_id, (report, wait_until) in list(self._finished.items()):
            late = time.monotonic() > wait_until
            if self._ledger.received(chunk_id) < report.batches and not late:
                continue
            del self._finished[chunk_id]
            spec = self._specs.pop(chunk_id)
            self._ledger.forget(chunk_id)
            self._shells.extend(report.shells_possibly_open)
            if self._stop.is_set():
                continue  # a chunk that saw the stop before it began: its hosts are cancelled
            for target in spec.targets:
                if not self._ledger.is_done(target.name):
                    await self._ledger.finish(
                        _lost(target.name, report.worker, "its events did not reach the client")
                    )

    async def _fail_chunk(self, chunk_id: str, error: BaseException) -> None:
        """The task itself failed (no password on the worker, a bug): its hosts say why."""
        spec = self._specs.pop(chunk_id)
        status = error.status if isinstance(error, PsfleetError) else HostStatus.FAILED
        for target in spec.targets:
            if not self._ledger.is_done(target.name):
                done = HostDone(target.name, status, 0.0, 0, type(error).__name__, str(error))
                await self._ledger.finish(done)

    async def _recover(self, chunk_id: str, post: Callable[[tuple[str, Any]], None]) -> None:
        """The chunk's worker died: hosts it never started run again; started ones are lost."""
        spec = self._specs.pop(chunk_id)
        state = await anyio.to_thread.run_sync(self._chunk_state, chunk_id)
        worker, claimed = state
        again: list[Target] = []
        retry_started = self._options.retry_started
        too_often = self._rounds[chunk_id] + 1 >= MAX_ROUNDS
        for target in spec.targets:
            if self._ledger.is_done(target.name):
                continue
            if (target.name in claimed and not retry_started) or too_often:
                await self._ledger.finish(
                    _lost(target.name, worker, "the worker was lost while the command may have run")
                )
            else:
                again.append(target)
        if again and not self._stop.is_set():
            await self._submit(again, self._rounds[chunk_id] + 1, post)

    def _chunk_state(self, chunk_id: str) -> tuple[str, set[str]]:
        """The worker that began the chunk and the hosts it claimed, from the scheduler."""
        run = self._client.get_metadata([METADATA_ROOT, self._run_id], {}) or {}
        worker = str(run.get("began", {}).get(chunk_id, "unknown worker"))
        claims = run.get("claims", {}).get(chunk_id, {})
        return worker, {host for hosts in claims.values() for host in hosts}

    async def _stop_on_request(self) -> None:
        with anyio.move_on_after(self._seconds_left()):
            await self._stop.wait()
        self._stop.set()
        await anyio.to_thread.run_sync(self._set_stop_event)

    def _seconds_left(self) -> float:
        return math.inf if self._deadline is None else self._deadline - time.time()

    def _set_stop_event(self) -> None:
        from distributed import Event as DaskEvent  # noqa: PLC0415

        DaskEvent(stop_event(self._run_id), client=self._client).set()

    def _forget_run(self) -> None:
        """The run is over: a chunk still queued or running (the run failed) stops at once."""
        self._set_stop_event()
        self._client.unsubscribe_topic(topic(self._run_id))
        self._client.set_metadata([METADATA_ROOT, self._run_id], {})

    async def _conclude(self, started: float) -> None:
        result = self._ledger.result
        result.interrupted = self._interrupted
        timed_out = self._deadline is not None and time.time() >= self._deadline
        stopped = (
            HostStatus.TIMEOUT if timed_out and not self._interrupted else HostStatus.CANCELLED
        )
        await self._ledger.finish_unfinished(stopped)
        result.wall_s = time.monotonic() - started
        result.shells_possibly_open = self._shells
        await self._emit(summarize(result))


def _lost(host: str, worker: str, why: str) -> HostDone:
    return HostDone(
        host, HostStatus.LOST, 0.0, 1, "WorkerLost", f"worker {worker}: {why}", None, worker
    )


def _poster(inbox: Inbox) -> Callable[[tuple[str, Any]], None]:
    """Hand a message from a Dask thread to the run's merge, in order; never blocks."""

    def post(message: tuple[str, Any]) -> None:
        inbox.put(*message)

    return post

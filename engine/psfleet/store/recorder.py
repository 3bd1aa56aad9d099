"""RunRecorder: a sink that records a run in the store, writing from its own thread.

`handle` only puts the event on a queue, so the event loop never waits for SQLite; the
writer thread turns events into rows (the JSON of records included) and writes them in
batches, one transaction each. Whatever goes wrong with the store (a damaged file, a
full disk) is said once as a warning and the run goes on unrecorded: a run never fails
because of its record.
"""

from __future__ import annotations

import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from psfleet.events import Event, HostDone, HostStarted, RecordEvent, RunSummary
from psfleet.logs import get_logger
from psfleet.serialize import JsonValue, dumps, summary_to_json, to_jsonable
from psfleet.store.liveness import RunLock, lock_path
from psfleet.store.location import DB_NAME
from psfleet.store.schema import StoreUnavailable, Warn, open_store, transaction
from psfleet.transport.blocking import off_loop

DEFAULT_KEEP_OUTPUT = 1024 * 1024  # bytes of record JSON kept per host
_BATCH_WINDOW_S = 0.1  # events gathered into one transaction: at most this much lost at a crash
_BATCH_MAX = 20000
_END = object()

_log = get_logger("psfleet.store")


@dataclass(frozen=True, slots=True)
class PlannedHost:
    name: str
    address: str
    port: int | None = None
    # A disconnected run's ids, chosen before the command starts, so that a client that
    # dies at any point leaves them in the store for `psfleet receive`.
    pool_id: str | None = None
    pipeline_id: str | None = None


@dataclass(frozen=True, slots=True)
class RunPlan:
    """What is known of a run before it starts. `options` must hold no secret."""

    commands: Sequence[str]
    hosts: Sequence[PlannedHost]
    targets_given: dict[str, JsonValue] = field(default_factory=dict)
    options: dict[str, JsonValue] = field(default_factory=dict)
    args: Sequence[JsonValue] = ()
    kind: str = "run"
    keep_output: int = DEFAULT_KEEP_OUTPUT
    idle_timeout_s: float | None = None  # disconnected: the IdleTimeOut asked of each host


def new_run_id() -> str:
    """Sortable by time, readable, unique: 20261203-193252-4f2a1c (UTC)."""
    return f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def _warn_log(message: str) -> None:
    _log.warning("run store", problem=message)


class RunRecorder:
    """Records one run: `await RunRecorder.start(...)`, feed it as a sink, `await aclose()`."""

    def __init__(
        self, state_dir: Path, plan: RunPlan, warn: Warn = _warn_log, resume: str | None = None
    ) -> None:
        # `resume`: the id of a recorded run whose hosts this one goes on with (receive).
        self._resume = resume
        self.run_id = resume or new_run_id()
        self.recorded = False  # True once the run's row is in the store
        self._state_dir = state_dir
        self._plan = plan
        self._warn = warn
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._opened = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(
            target=self._write_all, name=f"psfleet-store-{self.run_id}", daemon=True
        )

    @classmethod
    async def start(
        cls, state_dir: Path, plan: RunPlan, warn: Warn = _warn_log, resume: str | None = None
    ) -> RunRecorder:
        """The recorder, its run already in the store (or known not to be) when it returns."""
        recorder = cls(state_dir, plan, warn, resume)
        recorder._thread.start()
        await off_loop(recorder._opened.wait, name="psfleet-store-open")
        return recorder

    async def handle(self, event: Event) -> None:
        self._queue.put(event)

    async def aclose(self) -> None:
        """Write what is queued and the run's end; returns when the writer has finished."""
        self._closing.set()
        self._queue.put(_END)
        with anyio.CancelScope(shield=True):
            await off_loop(self._thread.join, name="psfleet-store-close")

    # The writer thread.

    def _write_all(self) -> None:
        writer: _Writer | None = None
        try:
            if self._resume is not None:
                writer = _Writer.resume(self._state_dir, self._resume, self._plan, self._warn)
            else:
                writer = _Writer.begin(self._state_dir, self.run_id, self._plan, self._warn)
            self.recorded = True
        except (StoreUnavailable, sqlite3.Error, OSError) as exc:
            self._warn(f"this run is not recorded: {exc}")
        finally:
            self._opened.set()
        ended = False
        while not ended:
            batch = self._next_batch()
            ended = batch[-1] is _END
            if writer is not None:
                try:
                    writer.write([e for e in batch if e is not _END], end=ended)
                except Exception as exc:  # a full disk, a damaged file, a bug: never the run's end
                    self._warn(f"recording stopped, the rest of this run is not recorded: {exc}")
                    writer.abandon()
                    writer = None
        if writer is not None:
            writer.finish()

    def _next_batch(self) -> list[Any]:
        """What came in one batch window. The thread sleeps through the window instead of
        waking for each event: every wake-up would take the GIL from the event loop, and
        at thousands of events a second those hand-offs cost more than the writes."""
        batch = [self._queue.get()]
        if batch[-1] is not _END:
            self._closing.wait(_BATCH_WINDOW_S)  # aclose() ends the wait at once
        while len(batch) < _BATCH_MAX and batch[-1] is not _END:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch


class _Writer:
    """The rows of one run; lives in the writer thread only."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        key: int,
        lock: RunLock,
        keep: int,
        seq: int = 0,
        resumed: bool = False,
    ) -> None:
        self._conn = conn
        self._key = key
        self._lock = lock
        self._keep = keep
        self._seq = seq
        self._resumed = resumed  # the run's row is another process's: leave its end alone
        self._bytes: dict[str, int] = {}
        self._dropped: dict[str, int] = {}

    @classmethod
    def begin(cls, state_dir: Path, run_id: str, plan: RunPlan, warn: Warn) -> _Writer:
        conn = open_store(state_dir / DB_NAME, warn)
        try:
            # The lock first: a reader that sees the run's row then sees it running.
            lock = RunLock(lock_path(state_dir, run_id))
        except OSError:
            conn.close()
            raise
        try:
            key = cls._insert_run(conn, run_id, plan, lock.path)
        except BaseException:
            lock.release()
            conn.close()
            raise
        return cls(conn, key, lock, plan.keep_output)

    @classmethod
    def resume(cls, state_dir: Path, run_id: str, plan: RunPlan, warn: Warn) -> _Writer:
        """Go on recording a run already in the store: its hosts' results and records."""
        conn = open_store(state_dir / DB_NAME, warn)
        try:
            row = conn.execute("SELECT key FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreUnavailable(f"no recorded run {run_id}")
            seq = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM records WHERE run_key = ?", (row[0],)
            ).fetchone()[0]
            lock = RunLock(lock_path(state_dir, f"{run_id}-{new_run_id()}"))
        except BaseException:
            conn.close()
            raise
        return cls(conn, row[0], lock, plan.keep_output, seq, resumed=True)

    @staticmethod
    def _insert_run(conn: sqlite3.Connection, run_id: str, plan: RunPlan, lock: Path) -> int:
        with transaction(conn):
            cursor = conn.execute(
                "INSERT INTO runs (id, kind, started_at, commands, args, targets_given, options, "
                "keep_output, lock_path, idle_timeout_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    plan.kind,
                    time.time(),
                    dumps(list(plan.commands)),
                    dumps(list(plan.args)),
                    dumps(plan.targets_given),
                    dumps(plan.options),
                    plan.keep_output,
                    str(lock),
                    plan.idle_timeout_s,
                ),
            )
            key = cursor.lastrowid
            assert key is not None
            conn.executemany(
                "INSERT OR IGNORE INTO hosts (run_key, position, host, address, port, pool_id, "
                "pipeline_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (key, i, h.name, h.address, h.port, h.pool_id, h.pipeline_id)
                    for i, h in enumerate(plan.hosts)
                ],
            )
        return key

    def write(self, events: list[Any], *, end: bool) -> None:
        records: list[tuple[Any, ...]] = []
        started: list[tuple[Any, ...]] = []
        done: list[tuple[Any, ...]] = []
        summary: str | None = None
        for event in events:
            if isinstance(event, RecordEvent):
                row = self._record_row(event)
                if row is not None:
                    records.append(row)
            elif isinstance(event, HostStarted):
                started.append((event.attempt, self._key, event.host))
            elif isinstance(event, HostDone):
                done.append(self._done_row(event))
            elif isinstance(event, RunSummary):
                summary = dumps(summary_to_json(event))
        with transaction(self._conn):
            self._conn.executemany(
                "INSERT INTO records (run_key, seq, host, stream, command, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                records,
            )
            self._conn.executemany(
                "UPDATE hosts SET attempts = ? WHERE run_key = ? AND host = ?", started
            )
            self._conn.executemany(
                "UPDATE hosts SET status = ?, attempts = ?, duration_s = ?, error_type = ?, "
                "error_message = ?, remedy = ?, output_bytes = ?, output_dropped = ?, "
                "bytes = ?, sha256 = ?, changed = ? WHERE run_key = ? AND host = ?",
                done,
            )
            if summary is not None and not self._resumed:
                self._conn.execute(
                    "UPDATE runs SET summary = ? WHERE key = ?", (summary, self._key)
                )
            if end and not self._resumed:
                self._conn.execute(
                    "UPDATE runs SET ended_at = ? WHERE key = ?", (time.time(), self._key)
                )

    def _record_row(self, event: RecordEvent) -> tuple[Any, ...] | None:
        host = event.host
        kept = self._bytes.get(host, 0)
        if kept >= self._keep:  # full (or --keep-output 0): not even converted
            self._dropped[host] = self._dropped.get(host, 0) + 1
            return None
        data = dumps(to_jsonable(event.data))
        size = len(data)
        if kept + size > self._keep:
            self._dropped[host] = self._dropped.get(host, 0) + 1
            return None
        self._bytes[host] = self._bytes.get(host, 0) + size
        self._seq += 1
        return (self._key, self._seq, host, str(event.stream), event.command_index, data)

    def _done_row(self, event: HostDone) -> tuple[Any, ...]:
        return (
            str(event.status),
            event.attempts,
            event.duration_s,
            event.error_type,
            event.error_message,
            event.remedy,
            self._bytes.get(event.host, 0),
            self._dropped.get(event.host, 0),
            event.bytes,
            event.sha256,
            event.changed,
            self._key,
            event.host,
        )

    def finish(self) -> None:
        try:
            self._lock.release()
        finally:
            self._conn.close()

    def abandon(self) -> None:
        """After a failed write: the run stays without an end (shown interrupted)."""
        self.finish()

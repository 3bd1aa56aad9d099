"""Reading the run store: recent runs, one run's hosts and records, selections, pruning."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psfleet.errors import UsageError
from psfleet.events import HostStatus
from psfleet.serialize import JsonValue
from psfleet.store.liveness import is_held
from psfleet.store.schema import transaction

LATEST = "last"
# Statuses only the store knows: a host of a live run not done yet, of a dead run never done.
PENDING = "pending"
INTERRUPTED = "interrupted"
DISCONNECTED = "disconnected"  # a disconnected run's host, its command left running
SELECTIONS = (
    "all", "ok", "not-ok", *(s.value for s in HostStatus), PENDING, INTERRUPTED, DISCONNECTED,
)  # fmt: skip

_RUN_COLUMNS = (
    "key, id, kind, started_at, ended_at, commands, args, targets_given, options, "
    "keep_output, lock_path, summary, idle_timeout_s"
)


@dataclass(frozen=True, slots=True)
class StoredRun:
    key: int
    id: str
    kind: str
    started_at: float
    ended_at: float | None
    commands: list[str]
    args: list[JsonValue]
    targets_given: dict[str, JsonValue]
    options: dict[str, JsonValue]
    keep_output: int
    state: str  # running, done, interrupted
    summary: dict[str, JsonValue] | None
    counts: dict[str, int]
    idle_timeout_s: float | None = None  # a disconnected run's IdleTimeOut, if it chose one

    @property
    def hosts(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "wall_s": None if self.ended_at is None else self.ended_at - self.started_at,
            "commands": list(self.commands),
            "targets": self.targets_given,
            "hosts": self.hosts,
            "counts": dict(self.counts),
        }


@dataclass(frozen=True, slots=True)
class StoredHost:
    host: str
    address: str
    port: int | None
    status: str
    attempts: int
    duration_s: float | None
    error_type: str | None
    error_message: str | None
    remedy: str | None
    output_bytes: int
    output_dropped: int  # records not kept: past --keep-output
    pool_id: str | None = None  # a disconnected run's: where its command runs
    pipeline_id: str | None = None
    # copy and fetch: what the host moved (None for a command run)
    bytes: int | None = None
    sha256: str | None = None
    changed: bool | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "host": self.host,
            "address": self.address,
            "port": self.port,
            "status": self.status,
            "attempts": self.attempts,
            "duration_s": self.duration_s,
            "error_type": self.error_type,
            "error_message": self.error_message,
            "remedy": self.remedy,
            "output_bytes": self.output_bytes,
            "output_dropped": self.output_dropped,
            "pool_id": self.pool_id,
            "pipeline_id": self.pipeline_id,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "changed": self.changed,
        }


@dataclass(frozen=True, slots=True)
class StoredRecord:
    host: str
    stream: str
    command: int
    data: JsonValue

    def to_json(self) -> dict[str, JsonValue]:
        return {"stream": self.stream, "command": self.command, "data": self.data}


def list_runs(conn: sqlite3.Connection, limit: int) -> list[StoredRun]:
    """The most recent runs first."""
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC, key DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_run(conn, row) for row in rows]


def find_run(conn: sqlite3.Connection, ref: str) -> StoredRun:
    """The run named `ref`: its id, a unique prefix of it, or `last`."""
    if ref == LATEST:
        rows = conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY started_at DESC, key DESC LIMIT 1"
        ).fetchall()
        if not rows:
            raise UsageError("no run is recorded yet")
    else:
        rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (ref,)).fetchall()
        if not rows:
            escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                (escaped + "%",),
            ).fetchall()
        if not rows:
            raise UsageError(f"no recorded run {ref!r} (psfleet runs lists them)")
        if len(rows) > 1:
            raise UsageError(f"{ref!r} names more than one run: give more of its id")
    return _run(conn, rows[0])


def run_hosts(
    conn: sqlite3.Connection, run: StoredRun, host: str | None = None
) -> list[StoredHost]:
    """The run's hosts in their target order (or the one named `host`)."""
    query = (
        "SELECT host, address, port, status, attempts, duration_s, error_type, error_message, "
        "remedy, output_bytes, output_dropped, pool_id, pipeline_id, bytes, sha256, changed "
        "FROM hosts WHERE run_key = ?"
    )
    params: tuple[Any, ...] = (run.key,)
    if host is not None:
        query += " AND host = ?"
        params += (host,)
    rows = conn.execute(query + " ORDER BY position", params).fetchall()
    unfinished = _unfinished(run.kind, run.state)
    return [_host(row, unfinished) for row in rows]


def _host(row: tuple[Any, ...], unfinished: str) -> StoredHost:
    (host, address, port, status, attempts, duration_s, error_type, error_message, remedy,
     output_bytes, output_dropped, pool_id, pipeline_id, moved, sha256, changed) = row  # fmt: skip
    return StoredHost(
        host, address, port, status or unfinished, attempts, duration_s, error_type,
        error_message, remedy, output_bytes, output_dropped, pool_id, pipeline_id, moved, sha256,
        None if changed is None else bool(changed),  # SQLite keeps 0 and 1
    )  # fmt: skip


def run_records(
    conn: sqlite3.Connection, run: StoredRun, host: str | None = None
) -> list[StoredRecord]:
    """The kept records, in the order they arrived."""
    query = "SELECT host, stream, command, data FROM records WHERE run_key = ?"
    params: tuple[Any, ...] = (run.key,)
    if host is not None:
        query += " AND host = ?"
        params += (host,)
    rows = conn.execute(query + " ORDER BY seq", params).fetchall()
    return [StoredRecord(h, s, c, json.loads(d)) for h, s, c, d in rows]


def select(hosts: Iterable[StoredHost], selection: str) -> list[StoredHost]:
    """The hosts a rerun takes: `all`, `ok`, `not-ok` (every status but ok) or a status."""
    if selection not in SELECTIONS:
        raise UsageError(f"cannot select {selection!r}: use one of {', '.join(SELECTIONS)}")
    if selection == "all":
        return list(hosts)
    if selection == "not-ok":
        return [h for h in hosts if h.status != HostStatus.OK]
    return [h for h in hosts if h.status == selection]


def prune(conn: sqlite3.Connection, older_than: float) -> int:
    """Delete the runs that started before `older_than` (epoch seconds) and are not running."""
    rows = conn.execute(
        f"SELECT {_RUN_COLUMNS} FROM runs WHERE started_at < ?", (older_than,)
    ).fetchall()
    keys = [(row[0],) for row in rows if _state(row) != "running"]
    with transaction(conn):
        conn.executemany("DELETE FROM runs WHERE key = ?", keys)
    return len(keys)


def _run(conn: sqlite3.Connection, row: tuple[Any, ...]) -> StoredRun:
    counts = dict(
        conn.execute(
            "SELECT coalesce(status, ''), count(*) FROM hosts WHERE run_key = ? GROUP BY 1",
            (row[0],),
        ).fetchall()
    )
    state = _state(row)
    unfinished = counts.pop("", 0)
    if unfinished:
        if row[2] == DISCONNECTED and state != "running":
            state = DISCONNECTED  # commands left running on hosts: `psfleet receive` them
        counts[_unfinished(row[2], state)] = unfinished
    summary = json.loads(row[11]) if row[11] else None
    return StoredRun(
        key=row[0],
        id=row[1],
        kind=row[2],
        started_at=row[3],
        ended_at=row[4],
        commands=json.loads(row[5]),
        args=json.loads(row[6]),
        targets_given=json.loads(row[7]),
        options=json.loads(row[8]),
        keep_output=row[9],
        state=state,
        summary=summary,
        counts=counts,
        idle_timeout_s=row[12],
    )


def _unfinished(kind: str, state: str) -> str:
    """What a host without a final status is, in a run of this kind and state."""
    if state == "running":
        return PENDING
    return DISCONNECTED if kind == DISCONNECTED else INTERRUPTED


def _state(row: tuple[Any, ...]) -> str:
    ended_at, lock, summary = row[4], row[10], row[11]
    if ended_at is None:
        return "running" if lock and is_held(Path(lock)) else INTERRUPTED
    if summary is None or json.loads(summary).get("interrupted"):
        return INTERRUPTED
    return "done"

"""The run store's SQLite file: its schema (versioned by PRAGMA user_version), WAL mode,
and what happens when the file cannot be read (moved aside, a fresh store made).

One connection per thread (sqlite3 connections are not shared across threads here). WAL
lets readers (`psfleet runs`) and other runs' writers work while a run writes; each
writer holds the write lock for one short batch, and waits up to BUSY_TIMEOUT_MS for it.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import tenacity

SCHEMA_VERSION = 3
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE runs (
    key INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    commands TEXT NOT NULL,
    args TEXT NOT NULL,
    targets_given TEXT NOT NULL,
    options TEXT NOT NULL,
    keep_output INTEGER NOT NULL,
    lock_path TEXT,
    summary TEXT,
    idle_timeout_s REAL
);
CREATE INDEX runs_started ON runs (started_at);
CREATE TABLE hosts (
    run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    host TEXT NOT NULL,
    address TEXT NOT NULL,
    port INTEGER,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    duration_s REAL,
    error_type TEXT,
    error_message TEXT,
    remedy TEXT,
    output_bytes INTEGER NOT NULL DEFAULT 0,
    output_dropped INTEGER NOT NULL DEFAULT 0,
    pool_id TEXT,
    pipeline_id TEXT,
    bytes INTEGER,
    sha256 TEXT,
    changed INTEGER,
    PRIMARY KEY (run_key, host)
) WITHOUT ROWID;
CREATE TABLE records (
    run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    host TEXT NOT NULL,
    stream TEXT NOT NULL,
    command INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_key, seq)
);
CREATE INDEX records_host ON records (run_key, host, seq);
"""
# From each version to the next: what a store an older psfleet wrote needs.
_MIGRATIONS = {
    # 2: copy and fetch are recorded, with what each host moved.
    1: (
        "ALTER TABLE hosts ADD COLUMN bytes INTEGER",
        "ALTER TABLE hosts ADD COLUMN sha256 TEXT",
        "ALTER TABLE hosts ADD COLUMN changed INTEGER",
    ),
    # 3: a disconnected run keeps the IdleTimeOut it asked for, for a receive to ask again.
    2: ("ALTER TABLE runs ADD COLUMN idle_timeout_s REAL",),
}

Warn = Callable[[str], None]


class StoreUnavailable(Exception):
    """The run store cannot be used (written by a newer psfleet, a directory not writable)."""


def _is_locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower()


# Two processes opening a new store at once: switching it to WAL needs the file to
# itself, and SQLite answers "database is locked" at once rather than call the busy
# handler. Once the file is in WAL mode (it stays so), this never happens again.
@tenacity.retry(
    retry=tenacity.retry_if_exception(_is_locked),
    stop=tenacity.stop_after_delay(BUSY_TIMEOUT_MS / 1000),
    wait=tenacity.wait_random(0.01, 0.1),
    reraise=True,
)
def connect(path: Path) -> sqlite3.Connection:
    """An open connection with the store's settings; the schema made if the file is new."""
    if not path.exists():
        # Output of hosts is kept here: readable by its owner only (the -wal/-shm take its mode).
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a commit may be lost at a power cut, the file stays consistent.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise StoreUnavailable(
            f"the run store has schema version {version}, newer than this psfleet's "
            f"{SCHEMA_VERSION}: upgrade psfleet, or use another --state-dir"
        )
    with transaction(conn):  # two first runs at once: one creates, the other sees it made
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise sqlite3.DatabaseError("not a psfleet run store (unknown tables)")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        else:
            for step in range(version, SCHEMA_VERSION):
                for statement in _MIGRATIONS[step]:
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an error (connections are in autocommit).

    IMMEDIATE takes the write lock at BEGIN, so a busy store is waited for there (busy
    timeout), never half-way through the transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def open_store(path: Path, warn: Warn) -> sqlite3.Connection:
    """connect(), or, when the file is not a readable store, move it aside and start afresh.

    Raises StoreUnavailable when no store can be used at all (the caller runs unrecorded).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create {path.parent}: {exc.strerror}") from exc
    try:
        return connect(path)
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and not _is_corruption(exc):
            raise StoreUnavailable(f"cannot open {path}: {exc}") from exc
        aside = move_aside(path)
        warn(
            f"the run store {path} is damaged ({exc}); moved it to {aside} and started a fresh one"
        )
    try:
        return connect(path)
    except sqlite3.Error as exc:
        raise StoreUnavailable(f"cannot open {path}: {exc}") from exc


def _is_corruption(exc: sqlite3.OperationalError) -> bool:
    # Locked or busy or read-only are not damage: the file must stay where it is.
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


def move_aside(path: Path) -> Path:
    """Rename the file (and its -wal, -shm) to `NAME.corrupt-TIME`, kept for inspection."""
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside

"""A store written by the first psfleet with a run store (schema 1) is migrated in place:
its runs stay readable, and copy/fetch results (2) and a disconnected run's IdleTimeOut (3)
can be recorded in it."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from psfleet.store import db_path, find_run, open_store, run_hosts
from psfleet.store.schema import SCHEMA_VERSION

VERSION_1 = """
CREATE TABLE runs (key INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
    started_at REAL NOT NULL, ended_at REAL, commands TEXT NOT NULL, args TEXT NOT NULL,
    targets_given TEXT NOT NULL, options TEXT NOT NULL, keep_output INTEGER NOT NULL,
    lock_path TEXT, summary TEXT);
CREATE INDEX runs_started ON runs (started_at);
CREATE TABLE hosts (run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
    position INTEGER NOT NULL, host TEXT NOT NULL, address TEXT NOT NULL, port INTEGER,
    status TEXT, attempts INTEGER NOT NULL DEFAULT 0, duration_s REAL, error_type TEXT,
    error_message TEXT, remedy TEXT, output_bytes INTEGER NOT NULL DEFAULT 0,
    output_dropped INTEGER NOT NULL DEFAULT 0, pool_id TEXT, pipeline_id TEXT,
    PRIMARY KEY (run_key, host)) WITHOUT ROWID;
CREATE TABLE records (run_key INTEGER NOT NULL REFERENCES runs (key) ON DELETE CASCADE,
    seq INTEGER NOT NULL, host TEXT NOT NULL, stream TEXT NOT NULL, command INTEGER NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (run_key, seq));
INSERT INTO runs VALUES (1, '20261203-100000-abcdef', 'run', 1.0, 2.0, '["hostname"]', '[]',
    '{}', '{}', 1024, NULL, '{"counts": {"ok": 1}}');
INSERT INTO hosts (run_key, position, host, address, port, status, attempts)
    VALUES (1, 0, 'node01', '10.0.0.1', 5985, 'ok', 1);
PRAGMA user_version = 1;
"""


def test_a_version_1_store_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    with closing(sqlite3.connect(db_path(tmp_path))) as old:
        old.executescript(VERSION_1)
    with closing(open_store(db_path(tmp_path), lambda message: None)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        run = find_run(conn, "last")
        [host] = run_hosts(conn, run)
    assert (run.id, run.state, host.host, host.status) == (
        "20261203-100000-abcdef", "done", "node01", "ok",
    )  # fmt: skip
    assert (host.bytes, host.sha256, host.changed) == (None, None, None)
    assert run.idle_timeout_s is None  # schema 3: not recorded then (the host keeps its own)

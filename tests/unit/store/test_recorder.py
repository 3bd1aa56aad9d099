"""The run store's recorder against real SQLite files: what a run leaves, bounded output,
damaged and foreign files, crashed runs, two runs at once, pruning."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import anyio
import pytest

from psfleet.errors import UsageError
from psfleet.events import Event, HostDone, HostStarted, HostStatus, RecordEvent, RunSummary, Stream
from psfleet.store import (
    PlannedHost,
    RunPlan,
    RunRecorder,
    StoreUnavailable,
    db_path,
    find_run,
    list_runs,
    open_store,
    prune,
    run_hosts,
    run_records,
    select,
)
from psfleet.store.schema import SCHEMA_VERSION

HOSTS = [PlannedHost(f"node{i:02d}", f"10.0.0.{i}", 5985) for i in range(1, 5)]


def plan(**changes: object) -> RunPlan:
    return RunPlan(commands=["hostname"], hosts=HOSTS, **changes)  # type: ignore[arg-type]


def a_run(statuses: Sequence[HostStatus]) -> list[Event]:
    events: list[Event] = []
    for host, status in zip(HOSTS, statuses, strict=True):
        events.append(HostStarted(host.name, 1))
        events.append(RecordEvent(host.name, Stream.OUTPUT, host.name.upper()))
        error = None if status is HostStatus.OK else "ConnectError"
        events.append(HostDone(host.name, status, 0.5, 1, error, error and "refused", None))
    counts = {s: list(statuses).count(s) for s in HostStatus}
    events.append(RunSummary(counts=counts, wall_s=1.5))
    return events


async def record(
    state: Path,
    events: Sequence[Event],
    run_plan: RunPlan | None = None,
    warnings: list[str] | None = None,
) -> RunRecorder:
    recorder = await RunRecorder.start(
        state, run_plan or plan(), (warnings if warnings is not None else []).append
    )
    for event in events:
        await recorder.handle(event)
    await recorder.aclose()
    return recorder


def read(state: Path) -> closing[sqlite3.Connection]:
    return closing(open_store(db_path(state), pytest.fail))


MIXED = [HostStatus.OK, HostStatus.UNREACHABLE, HostStatus.OK, HostStatus.FAILED]


def test_a_finished_run_has_its_hosts_records_and_summary(tmp_path: Path) -> None:
    recorder = anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        run = find_run(conn, "last")
        assert run.id == recorder.run_id and run.state == "done"
        assert run.counts == {"ok": 2, "unreachable": 1, "failed": 1}
        hosts = run_hosts(conn, run)
        assert [h.host for h in hosts] == [h.name for h in HOSTS]
        assert hosts[1].error_type == "ConnectError" and hosts[1].address == "10.0.0.2"
        assert [r.data for r in run_records(conn, run, "node03")] == ["NODE03"]
        assert run.summary is not None and run.summary["wall_s"] == 1.5
    assert not any((tmp_path / "running").iterdir())  # the run's lock is gone


def test_the_file_is_versioned_in_wal_mode_and_private(tmp_path: Path) -> None:
    anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (db_path(tmp_path).stat().st_mode & 0o777) == 0o600


def test_output_past_keep_output_is_dropped_and_counted(tmp_path: Path) -> None:
    line = "x" * 100  # 102 bytes of JSON
    events: list[Event] = [RecordEvent("node01", Stream.OUTPUT, line) for _ in range(10)]
    events.append(HostDone("node01", HostStatus.OK, 0.1, 1))
    anyio.run(record, tmp_path, events, plan(keep_output=350))
    with read(tmp_path) as conn:
        run = find_run(conn, "last")
        assert len(run_records(conn, run, "node01")) == 3
        host = run_hosts(conn, run, "node01")[0]
        assert (host.output_bytes, host.output_dropped) == (306, 7)


def test_keep_output_0_keeps_no_record_but_every_result(tmp_path: Path) -> None:
    anyio.run(record, tmp_path, a_run(MIXED), plan(keep_output=0))
    with read(tmp_path) as conn:
        run = find_run(conn, "last")
        assert run_records(conn, run) == []
        assert [h.status for h in run_hosts(conn, run)] == [str(s) for s in MIXED]


def test_a_damaged_file_is_moved_aside_with_a_warning_and_the_run_recorded(
    tmp_path: Path,
) -> None:
    db_path(tmp_path).write_bytes(b"this is no database" * 100)
    warnings: list[str] = []
    recorder = anyio.run(record, tmp_path, a_run(MIXED), None, warnings)
    assert recorder.recorded
    assert len(warnings) == 1 and "damaged" in warnings[0] and "moved it to" in warnings[0]
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is no database")
    with read(tmp_path) as conn:
        assert find_run(conn, "last").id == recorder.run_id


def test_a_store_of_a_newer_psfleet_is_left_alone_and_the_run_goes_on(tmp_path: Path) -> None:
    conn = sqlite3.connect(db_path(tmp_path))
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    warnings: list[str] = []
    recorder = anyio.run(record, tmp_path, a_run(MIXED), None, warnings)
    assert not recorder.recorded
    assert warnings and "newer" in warnings[0] and "not recorded" in warnings[0]
    with pytest.raises(StoreUnavailable):
        open_store(db_path(tmp_path), warnings.append)


def test_an_unwritable_state_dir_leaves_the_run_unrecorded_not_failed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    warnings: list[str] = []
    recorder = anyio.run(record, blocker / "state", a_run(MIXED), None, warnings)
    assert not recorder.recorded and "not recorded" in warnings[0]


_KILLED_MID_RUN = textwrap.dedent(
    """
    import os, signal, sys, anyio
    from pathlib import Path
    from psfleet.events import HostDone, HostStatus
    from psfleet.store import PlannedHost, RunPlan, RunRecorder

    async def main():
        hosts = [PlannedHost(f"node{i:02d}", f"10.0.0.{i}") for i in range(1, 5)]
        recorder = await RunRecorder.start(Path(sys.argv[1]), RunPlan(["hostname"], hosts))
        await recorder.handle(HostDone("node01", HostStatus.OK, 0.1, 1))
        await anyio.sleep(0.5)  # past the writer's batch window: node01 is written
        print(recorder.run_id, flush=True)
        await anyio.sleep(60)

    anyio.run(main)
    """
)


def test_a_run_whose_process_was_killed_shows_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_RUN, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    run_id = process.stdout.readline().strip()
    with read(tmp_path) as conn:
        assert find_run(conn, run_id).state == "running"
        assert find_run(conn, run_id).counts == {"ok": 1, "pending": 3}
    process.send_signal(signal.SIGKILL)
    process.wait()
    with read(tmp_path) as conn:
        run = find_run(conn, run_id)
        assert run.state == "interrupted" and run.ended_at is None
        assert run.counts == {"ok": 1, "interrupted": 3}
        assert [h.host for h in select(run_hosts(conn, run), "not-ok")] == [
            "node02", "node03", "node04",
        ]  # fmt: skip


def test_two_runs_at_once_are_both_recorded_whole(tmp_path: Path) -> None:
    many = [PlannedHost(f"n{i:04d}", "10.1.0.1") for i in range(2000)]

    def events() -> list[Event]:
        out: list[Event] = []
        for host in many:
            out.append(RecordEvent(host.name, Stream.OUTPUT, "x" * 50))
            out.append(HostDone(host.name, HostStatus.OK, 0.1, 1))
        out.append(RunSummary(counts={HostStatus.OK: len(many)}, wall_s=1.0))
        return out

    ids: list[str] = []

    def one_run() -> None:
        recorder = anyio.run(record, tmp_path, events(), RunPlan(["x"], many))
        ids.append(recorder.run_id)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with read(tmp_path) as conn:
        for run_id in ids:
            run = find_run(conn, run_id)
            assert run.state == "done" and run.counts == {"ok": 2000}
            assert len(run_records(conn, run)) == 2000


def test_prune_deletes_old_finished_runs_with_their_rows(tmp_path: Path) -> None:
    old = anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        conn.execute(
            "UPDATE runs SET started_at = started_at - 40 * 86400 WHERE id = ?", (old.run_id,)
        )
    new = anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        assert prune(conn, time.time() - 30 * 86400) == 1
        assert [run.id for run in list_runs(conn, 10)] == [new.run_id]
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 4
        assert conn.execute("SELECT count(*) FROM hosts").fetchone()[0] == 4


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("all", ["node01", "node02", "node03", "node04"]),
        ("ok", ["node01", "node03"]),
        ("not-ok", ["node02", "node04"]),
        ("failed", ["node04"]),
        ("unreachable", ["node02"]),
        ("timeout", []),
    ],
)
def test_select_names_hosts_by_status(tmp_path: Path, selection: str, expected: list[str]) -> None:
    anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        hosts = run_hosts(conn, find_run(conn, "last"))
    assert [h.host for h in select(hosts, selection)] == expected


def test_a_run_is_found_by_a_unique_start_of_its_id(tmp_path: Path) -> None:
    first = anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        assert find_run(conn, first.run_id[:-2]).id == first.run_id


def test_a_start_of_two_runs_ids_is_refused_and_a_whole_id_is_not(tmp_path: Path) -> None:
    first = anyio.run(record, tmp_path, a_run(MIXED))
    second = anyio.run(record, tmp_path, a_run(MIXED))
    with read(tmp_path) as conn:
        with pytest.raises(UsageError, match="more than one run"):
            find_run(conn, first.run_id[:4])
        assert find_run(conn, second.run_id).id == second.run_id
        with pytest.raises(UsageError, match="no recorded run"):
            find_run(conn, "1999")

"""`psfleet receive` bounded by the user's deadlines (a host cut off is left disconnected
for a later receive), and two receives of one run at once (the second is refused at once).
Against a `psfleet sim` subprocess on 127.30.2.x."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psfleet.store import receive_claim_path
from tests.integration.cli.test_disconnected_cli import Fleet, start_fleet

AUTH = ["-u", "LAB\\admin", "--auth", "ntlm", "--retries", "0"]
HOSTS = [f"node0{n}" for n in (1, 2, 3)]
# "a" at once, "b" some seconds later: a receive cut off in between has only "a".
TWO_PARTS = '"a $env:COMPUTERNAME"; Start-Sleep 4; "b $env:COMPUTERNAME"'


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    process, lab = start_fleet(tmp_path_factory.mktemp("receive"), "127.30.2.1", 3)
    with process:
        yield lab


def env(state: Path) -> dict[str, str]:
    return {**os.environ, "PSFLEET_PASSWORD": "psfleet-demo", "PSFLEET_STATE_DIR": str(state)}


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psfleet", *args],
        capture_output=True, text=True, env=env(state), timeout=120, check=False,
    )  # fmt: skip


def start(fleet: Fleet, state: Path, script: str) -> str:
    started = cli(state, "run", "all", "--inventory", str(fleet.inventory), *AUTH,
                  "--disconnected", "-c", script)  # fmt: skip
    assert started.returncode == 0, started.stderr
    [run] = json.loads(cli(state, "runs", "--json").stdout)
    return str(run["id"])


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def done_and_records(stdout: str) -> tuple[dict[str, dict[str, Any]], dict[str, list[Any]]]:
    done = {e["host"]: e for e in events(stdout) if e["event"] == "host_done"}
    records: dict[str, list[Any]] = {}
    for e in events(stdout):
        if e["event"] == "record":
            records.setdefault(e["host"], []).append(e["data"])
    return done, records


def test_a_host_past_its_timeout_ends_timeout_and_a_later_receive_gets_the_rest(
    fleet: Fleet, tmp_path: Path
) -> None:
    start(fleet, tmp_path, TWO_PARTS)
    cut = cli(tmp_path, "receive", "last", *AUTH, "--json", "--timeout", "1.5")
    assert cut.returncode == 1, cut.stderr
    done, records = done_and_records(cut.stdout)
    assert {h: d["status"] for h, d in done.items()} == dict.fromkeys(HOSTS, "timeout")
    assert all(d["duration_s"] < 2.5 for d in done.values())  # the deadline bounds the host
    assert "within 1.5s" in done["node01"]["error_message"]
    assert "psfleet receive again" in done["node01"]["remedy"]
    assert records == {h: [f"a {h.upper()}"] for h in HOSTS}
    assert fleet.stats()["shells_open"] == 3  # left disconnected, the commands running on
    [run] = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert run["state"] == "disconnected" and run["counts"] == {"disconnected": 3}

    rest = cli(tmp_path, "receive", "last", *AUTH, "--json")
    assert rest.returncode == 0, rest.stderr
    done, records = done_and_records(rest.stdout)
    assert {h: d["status"] for h, d in done.items()} == dict.fromkeys(HOSTS, "ok")
    assert records == {h: [f"b {h.upper()}"] for h in HOSTS}  # nothing received twice
    fleet.wait_for("shells_open", lambda n: n == 0)
    shown = json.loads(cli(tmp_path, "show", "last", "--json").stdout)
    assert {h["host"]: [r["data"] for r in h["records"]] for h in shown["hosts"]} == {
        h: [f"a {h.upper()}", f"b {h.upper()}"] for h in HOSTS
    }


def test_the_run_timeout_bounds_hosts_still_waiting_for_their_turn(
    fleet: Fleet, tmp_path: Path
) -> None:
    start(fleet, tmp_path, "Start-Sleep 3; 'done'")
    cut = cli(tmp_path, "receive", "last", *AUTH, "--json", "--run-timeout", "1", "--throttle", "1")
    assert cut.returncode == 1, cut.stderr
    done, _ = done_and_records(cut.stdout)
    assert {h: d["status"] for h, d in done.items()} == dict.fromkeys(HOSTS, "timeout")
    assert {d["error_message"] for d in done.values()} == {"the run did not finish within 1s"}
    assert all(d["duration_s"] < 2 for d in done.values())
    assert fleet.stats()["shells_open"] == 3

    rest = cli(tmp_path, "receive", "last", *AUTH, "--json")
    assert rest.returncode == 0, rest.stderr
    _, records = done_and_records(rest.stdout)
    assert records == {host: ["done"] for host in HOSTS}
    fleet.wait_for("shells_open", lambda n: n == 0)


def claimed(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_second_receive_of_a_run_being_received_is_refused(fleet: Fleet, tmp_path: Path) -> None:
    run_id = start(fleet, tmp_path, TWO_PARTS)
    first = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "receive", run_id, *AUTH, "--json"],
        env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    claim = receive_claim_path(tmp_path, run_id)
    deadline = time.monotonic() + 60
    while not claimed(claim):
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = cli(tmp_path, "receive", run_id, *AUTH)
    assert second.returncode == 2
    assert f"another psfleet receive of run {run_id} is running" in second.stderr
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    done, records = done_and_records(out)
    assert {h: d["status"] for h, d in done.items()} == dict.fromkeys(HOSTS, "ok")
    assert records == {h: [f"a {h.upper()}", f"b {h.upper()}"] for h in HOSTS}
    fleet.wait_for("shells_open", lambda n: n == 0)

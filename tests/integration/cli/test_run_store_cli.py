"""The run store from the command line: `psfleet run` records, `runs` and `show` read,
`--rerun` reruns; against a `psfleet sim` subprocess on 127.27.1.x."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

PASSWORD = "psfleet-demo"
FIRST_ADDRESS = "127.27.1.1"
AUTH = ["-u", "LAB\\admin", "--auth", "ntlm", "--retries", "0"]
# node03 and node07 fail their script; node12 refuses connections.
SEEDED = "if ('NODE03','NODE07' -contains $env:COMPUTERNAME) { throw 'seeded failure' }; hostname"
NOT_OK = {"node03", "node07", "node12"}


@dataclass
class StoreLab:
    inventory: Path
    state: Path

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "psfleet", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )

    def env(self) -> dict[str, str]:
        return {**os.environ, "PSFLEET_PASSWORD": PASSWORD, "PSFLEET_STATE_DIR": str(self.state)}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("run", *args, "--inventory", str(self.inventory), *AUTH)

    def json(self, *args: str) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    inventory = tmp_path_factory.mktemp("storelab") / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", "12", "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--faults", "refuse:node12",
    ):  # fmt: skip
        yield inventory


@pytest.fixture
def lab(fleet: Path, tmp_path: Path) -> StoreLab:
    return StoreLab(fleet, tmp_path / "state")


def host_done(stdout: str) -> dict[str, str]:
    events = [json.loads(line) for line in stdout.splitlines()]
    return {e["host"]: e["status"] for e in events if e["event"] == "host_done"}


def test_rerun_not_ok_runs_exactly_the_hosts_that_were_not_ok(lab: StoreLab) -> None:
    first = lab.run("node[01-12]", "-c", SEEDED, "--json")
    assert first.returncode == 1
    statuses = host_done(first.stdout)
    assert {h for h, s in statuses.items() if s != "ok"} == NOT_OK

    again = lab.run("--rerun", "last:not-ok", "-c", "hostname", "--json")
    assert set(host_done(again.stdout)) == NOT_OK
    assert host_done(again.stdout) == {"node03": "ok", "node07": "ok", "node12": "unreachable"}
    shown = lab.json("show", "last")
    assert {h["host"] for h in shown["hosts"]} == NOT_OK
    assert shown["run"]["commands"] == ["hostname"]
    assert shown["run"]["targets"]["rerun"] == "last:not-ok"


def test_rerun_without_a_command_runs_the_recorded_one_and_targets_intersect(
    lab: StoreLab,
) -> None:
    first = lab.run("node[01-12]", "-c", SEEDED, "--json")
    run_id = lab.json("runs")[0]["id"]
    assert first.returncode == 1

    again = lab.run("node[01-05]", "--rerun", f"{run_id}:failed", "--json")
    assert host_done(again.stdout) == {"node03": "failed"}  # the seeded script again
    assert lab.json("show", "last")["run"]["commands"] == [SEEDED]

    nothing = lab.run("node[01-02]", "--rerun", f"{run_id}:failed")
    assert nothing.returncode == 0 and "nothing to run" in nothing.stderr


def test_runs_and_show_json_schemas(lab: StoreLab) -> None:
    lab.run("node[01-03]", "-c", "Write-Warning careful; hostname", "--json")
    runs = lab.json("runs", "--limit", "5")
    assert len(runs) == 1
    assert set(runs[0]) == {
        "id", "kind", "state", "started_at", "ended_at", "wall_s", "commands", "targets",
        "hosts", "counts",
    }  # fmt: skip
    assert runs[0]["state"] == "done" and runs[0]["counts"] == {"ok": 3}
    assert runs[0]["targets"]["expressions"] == ["node[01-03]"]

    shown = lab.json("show", runs[0]["id"], "--host", "node02")
    assert set(shown) == {"run", "hosts"}
    assert {"options", "args", "summary"} <= set(shown["run"])
    assert shown["run"]["options"]["auth"] == "ntlm"
    [host] = shown["hosts"]
    assert set(host) == {
        "host", "address", "port", "status", "attempts", "duration_s", "error_type",
        "error_message", "remedy", "output_bytes", "output_dropped", "pool_id", "pipeline_id",
        "bytes", "sha256", "changed", "records",
    }  # fmt: skip
    assert (host["bytes"], host["sha256"], host["changed"]) == (None, None, None)  # copy/fetch
    assert host["address"] == "127.27.1.2" and host["status"] == "ok"
    assert host["pool_id"] is None  # only a disconnected run's hosts have one
    assert host["records"] == [
        {"stream": "warning", "command": 0, "data": {"message": "careful", "command": None}},
        {"stream": "output", "command": 0, "data": "NODE02"},
    ]


def test_show_prints_the_run_as_it_printed(lab: StoreLab) -> None:
    ran = lab.run("node[10-12]", "-c", "hostname")
    shown = lab.cli("show", "last")
    assert shown.returncode == 0, shown.stderr
    for line in ("[node10] NODE10", "[node11] NODE11", "[node12] unreachable: ConnectError"):
        assert line in ran.stdout and line in shown.stdout
    assert "Run complete: 3 hosts" in shown.stdout and "Failures" in shown.stdout


def test_the_password_is_never_in_the_store(lab: StoreLab) -> None:
    lab.run("node[01-04]", "-c", "hostname")
    files = [p for p in lab.state.rglob("*") if p.is_file()]
    assert any(p.name == "runs.db" for p in files)
    for path in files:
        assert PASSWORD.encode() not in path.read_bytes(), path


def test_no_store_records_nothing(lab: StoreLab) -> None:
    lab.run("node01", "-c", "hostname")
    lab.run("node02", "-c", "hostname", "--no-store")
    assert [r["targets"]["expressions"] for r in lab.json("runs")] == [["node01"]]


def test_two_runs_at_once_are_both_recorded(lab: StoreLab) -> None:
    command = [sys.executable, "-m", "psfleet", "run", "--inventory", str(lab.inventory), *AUTH]
    runs = [
        subprocess.Popen([*command, hosts, "-c", "hostname", "-q"], env=lab.env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for hosts in ("node[01-06]", "node[05-11]")
    ]  # fmt: skip
    for process in runs:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    recorded = lab.json("runs")
    assert sorted(r["counts"]["ok"] for r in recorded) == [6, 7]
    assert all(r["state"] == "done" for r in recorded)


def test_a_damaged_store_warns_and_the_run_goes_on(lab: StoreLab) -> None:
    lab.state.mkdir()
    (lab.state / "runs.db").write_bytes(b"\x00garbage" * 512)
    done = lab.run("node01", "-c", "hostname")
    assert done.returncode == 0 and "[node01] NODE01" in done.stdout
    assert "run store" in done.stderr and "damaged" in done.stderr and "moved it to" in done.stderr
    assert len(list(lab.state.glob("runs.db.corrupt-*"))) == 1
    assert lab.json("runs")[0]["counts"] == {"ok": 1}


def test_a_missing_store_lists_no_runs_and_show_says_so(lab: StoreLab) -> None:
    assert lab.json("runs") == []
    shown = lab.cli("show", "last")
    assert shown.returncode == 2 and "no run is recorded yet" in shown.stderr


def test_a_killed_run_shows_interrupted_and_its_unfinished_hosts_rerun(lab: StoreLab) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "run", "node[01-03]", "--inventory", str(lab.inventory),
         *AUTH, "--json", "-c", "if ($env:COMPUTERNAME -ne 'NODE01') { Start-Sleep 60 }; 'up'"],
        env=lab.env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # node01 done: the others are sleeping
        if json.loads(line)["event"] == "host_done":
            break
    running = lab.json("runs")[0]
    deadline = time.monotonic() + 60
    while running["counts"].get("ok") != 1 and time.monotonic() < deadline:
        running = lab.json("runs")[0]  # the writer thread writes in batches of up to 0.1 s
    assert running["state"] == "running" and running["counts"] == {"ok": 1, "pending": 2}
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stdout.close()
    killed = lab.json("runs")[0]
    assert killed["state"] == "interrupted" and killed["ended_at"] is None
    assert killed["counts"] == {"ok": 1, "interrupted": 2}
    shown = lab.json("show", "last")
    assert [h["records"] for h in shown["hosts"] if h["host"] == "node01"] == [
        [{"stream": "output", "command": 0, "data": "up"}]
    ]
    again = lab.run("--rerun", "last:not-ok", "-c", "'again'", "--json")
    assert host_done(again.stdout) == {"node02": "ok", "node03": "ok"}

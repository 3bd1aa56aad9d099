"""psfleet run: exit codes, JSON Lines, the output directory, the log file, and SIGINT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

AUTH = ["-u", "LAB\\admin", "--auth", "ntlm"]


def test_all_ok_exits_0_with_host_prefixed_lines(lab: Any, cli: Any) -> None:
    done = cli("run", "node[01-03]", "--inventory", str(lab.inventory), *AUTH, "-c", "hostname")
    assert done.returncode == 0, done.stderr
    assert "[node02] NODE02" in done.stdout
    assert lab.password not in done.stdout + done.stderr


def test_a_host_not_ok_exits_1_and_is_in_the_summary(lab: Any, cli: Any) -> None:
    done = cli(
        "run",
        "node23,node24",
        "--inventory",
        str(lab.inventory),
        *AUTH,
        "--retries",
        "0",
        "-c",
        "hostname",
    )
    assert done.returncode == 1
    assert "unreachable" in done.stdout


def test_usage_errors_exit_2_before_anything_runs(lab: Any, cli: Any) -> None:
    for args in (
        ["node01", "--inventory", str(lab.inventory), *AUTH],  # nothing to run
        ["node[5-1]", "--inventory", str(lab.inventory), *AUTH, "-c", "hostname"],
        ["NOSUCHGROUP", "--inventory", str(lab.inventory), *AUTH, "-c", "hostname"],
        ["node01", "--inventory", str(lab.inventory), *AUTH, "--auth", "telepathy", "-c", "x"],
    ):
        done = cli("run", *args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "psfleet run:" in done.stderr


def test_json_lines_carry_records_host_done_and_a_final_summary(lab: Any, cli: Any) -> None:
    done = cli(
        "run",
        "CLUSTER01",
        "--inventory",
        str(lab.inventory),
        *AUTH,
        "--json",
        "--retries",
        "0",
        "-c",
        "$env:COMPUTERNAME",
        "-c",
        "Write-Warning 'careful'",
    )
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["event"] == "summary"
    assert events[-1]["counts"]["ok"] == 23 and events[-1]["counts"]["unreachable"] == 1
    done_hosts = [e["host"] for e in events if e["event"] == "host_done"]
    assert sorted(done_hosts) == sorted(f"node{i:02d}" for i in range(1, 25))
    records = [e for e in events if e["event"] == "record" and e["host"] == "node05"]
    assert {"stream": "output", "data": "NODE05", "command": 0}.items() <= records[0].items()
    assert any(r["stream"] == "warning" and r["command"] == 1 for r in records)
    refused = next(e for e in events if e["event"] == "host_done" and e["host"] == "node24")
    assert refused["status"] == "unreachable" and refused["error_type"] == "ConnectError"


def test_output_dir_and_log_json(lab: Any, cli: Any, tmp_path: Path) -> None:
    out, log = tmp_path / "out", tmp_path / "run.log"
    done = cli(
        "run",
        "node01,node02",
        "--inventory",
        str(lab.inventory),
        *AUTH,
        "--quiet",
        "--output-dir",
        str(out),
        "--log-json",
        str(log),
        "-c",
        "1..3",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((out / "node01" / "output.json").read_text()) == [1, 2, 3]
    assert json.loads((out / "node02" / "result.json").read_text())["status"] == "ok"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(line.get("event") == "host done" for line in lines)
    assert lab.password not in log.read_text()


def test_sigint_stops_pipelines_closes_pools_and_exits_130(lab: Any, cli: Any) -> None:
    env = {**os.environ, "PSFLEET_PASSWORD": lab.password}
    before = lab.stats()["executions"]
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psfleet",
            "run",
            "CLUSTER01",
            "--inventory",
            str(lab.inventory),
            *AUTH,
            "--retries",
            "0",
            "-c",
            "Start-Sleep -Seconds 60; 'late'",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 30
    while lab.stats()["executions"] < before + 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    run.send_signal(signal.SIGINT)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert "cancelled" in stdout and "late" not in stdout
    assert lab.stats()["shells_open"] == 0

"""`psfleet run --executor local-cluster` as a user runs it: a LocalCluster of two worker
processes started by the command, against a `psfleet sim` subprocess on 127.25.64.x."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

pytest.importorskip("distributed")

FIRST_ADDRESS = "127.25.64.1"
HOSTS = 16


@dataclass
class DaskLab:
    inventory: Path
    port: int

    def stats(self) -> dict[str, Any]:
        url = f"http://{FIRST_ADDRESS}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture(scope="module")
def dask_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskLab]:
    """16 hosts; node16 refuses connections."""
    inventory = tmp_path_factory.mktemp("dasklab") / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--faults", "refuse:node16",
    ):  # fmt: skip
        yield DaskLab(inventory, port)


def _run_args(lab: DaskLab, script: str) -> list[str]:
    return [
        "run", "node[01-16]", "--inventory", str(lab.inventory), "-c", script,
        "--auth", "ntlm", "-u", "LAB\\admin", "--retries", "0", "--connect-timeout", "2",
        "--executor", "local-cluster", "--workers", "2", "--chunk-size", "4", "--json",
    ]  # fmt: skip


def test_json_events_name_the_worker_of_every_host(dask_lab: DaskLab) -> None:
    done = run_psfleet(*_run_args(dask_lab, "$env:COMPUTERNAME"), timeout=180)
    assert done.returncode == 1, done.stderr  # node16 is unreachable
    events = [json.loads(line) for line in done.stdout.splitlines()]
    finals = [e for e in events if e["event"] == "host_done"]
    assert sorted(e["host"] for e in finals) == [f"node{n:02d}" for n in range(1, 17)]
    assert Counter(e["status"] for e in finals) == {"ok": 15, "unreachable": 1}
    assert all(e["worker"].startswith("tcp://") for e in finals)
    assert len({e["worker"] for e in finals}) == 2
    records = [e for e in events if e["event"] == "record"]
    assert {r["data"] for r in records} == {f"NODE{n:02d}" for n in range(1, 16)}
    assert all(r["worker"].startswith("tcp://") for r in records)
    assert events[-1]["event"] == "summary"
    assert events[-1]["counts"]["lost"] == 0
    assert DEFAULT_PASSWORD not in done.stdout + done.stderr


def test_ctrl_c_stops_the_cluster_s_pipelines_and_leaves_no_shell(dask_lab: DaskLab) -> None:
    before = dask_lab.stats()
    env = {**os.environ, "PSFLEET_PASSWORD": DEFAULT_PASSWORD}
    args = _run_args(dask_lab, "Start-Sleep -Seconds 60; 'late'")
    with subprocess.Popen(
        [sys.executable, "-m", "psfleet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        _wait_for_commands(dask_lab, before, count=15)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=90)
    assert process.returncode == 130, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    finals = [e for e in events if e["event"] == "host_done"]
    assert len(finals) == HOSTS == len({e["host"] for e in finals})
    assert events[-1]["interrupted"] is True
    assert dask_lab.stats()["shells_open"] == 0


def test_without_the_dask_extra_the_executor_is_a_usage_error_naming_it() -> None:
    hide_dask = (
        "import sys; sys.modules['distributed'] = None; "
        "from psfleet.cli.app import main; sys.argv[0] = 'psfleet'; main()"
    )
    args = ["run", "node01", "-c", "1", "--auth", "ntlm", "-u", "LAB\\admin",
            "--executor", "local-cluster"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", hide_dask, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PSFLEET_PASSWORD": DEFAULT_PASSWORD},
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'psfleet[dask]'" in done.stderr


def _wait_for_commands(lab: DaskLab, before: dict[str, Any], count: int) -> None:
    """Until `count` hosts run the command: SIGINT then finds every pipeline running."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        now = lab.stats()["hosts"]
        running = sum(now[h]["commands_run"] > before["hosts"][h]["commands_run"] for h in now)
        if running >= count:
            return
        time.sleep(0.1)
    raise AssertionError("the hosts' commands never started")


def test_bench_probes_on_the_cluster_s_workers(dask_lab: DaskLab) -> None:
    args = [
        "bench", "node[01-16]", "--inventory", str(dask_lab.inventory), "--auth", "ntlm",
        "-u", "LAB\\admin", "--connect-timeout", "2", "--commands", "1", "--unloaded", "2",
        "--executor", "local-cluster", "--workers", "2", "--chunk-size", "4", "--json",
    ]  # fmt: skip
    before = dask_lab.stats()["hosts"]
    done = run_psfleet(*args, timeout=180)
    assert done.returncode == 1, done.stderr  # node16 is unreachable
    figures = json.loads(done.stdout)
    assert (figures["hosts"], figures["ok"]) == (16, 15)
    assert figures["failures"] == {"unreachable": 1}
    assert sorted(h["host"] for h in figures["per_host"]) == [f"node{n:02d}" for n in range(1, 17)]
    assert figures["client_cpu_ms_per_host"] > 0  # the workers' CPU, summed
    after = dask_lab.stats()["hosts"]
    # Each reachable host ran the probe's script twice (first run + one warm repeat).
    assert all(
        after[h]["commands_run"] - before[h]["commands_run"] == 2 for h in after if h != "node16"
    )
    assert DEFAULT_PASSWORD not in done.stdout + done.stderr

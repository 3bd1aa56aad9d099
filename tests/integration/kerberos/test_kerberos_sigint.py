"""Ctrl-C of `psfleet run --auth kerberos` (a password, the real KDC): exit 130, no shell left."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.kdc import MitKdc
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

ADDRESS = "127.13.2.1"
HOSTS = 12


@pytest.fixture(scope="module")
def kerberos_lab(
    kdc: MitKdc, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, int]]:
    kdc.add_hosts(f"node{n:02d}" for n in range(1, HOSTS + 1))
    inventory = tmp_path_factory.mktemp("krblab") / "inventory.yml"
    port = free_port(ADDRESS)
    with kdc.applied_env(), sim_process(
        "--hosts", str(HOSTS), "--base-address", ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--keytab", str(kdc.keytab), "--faults", "delay:50%@400ms",
    ):  # fmt: skip
        yield inventory, port


def stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{ADDRESS}:{port}/stats", timeout=10) as response:
        result: dict[str, Any] = json.load(response)
    return result


@pytest.mark.parametrize("moment", ["auth", "pipelines"])
def test_sigint_during_a_kerberos_run_exits_130_and_leaves_no_shell(
    kdc: MitKdc, kerberos_lab: tuple[Path, int], moment: str
) -> None:
    inventory, port = kerberos_lab
    before = stats(port)
    run = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "run", f"node[01-{HOSTS}]", "--inventory",
         str(inventory), "-u", kdc.principal, "--auth", "kerberos", "--retries", "0", "--json",
         "-c", "Start-Sleep -Seconds 20; 'late'"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PSFLEET_PASSWORD": kdc.password},
    )  # fmt: skip
    wanted = "requests" if moment == "auth" else "executions"
    enough = 1 if moment == "auth" else HOSTS // 2
    deadline = time.monotonic() + 30
    while not (reached := stats(port)[wanted] >= before[wanted] + enough):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    try:
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert reached, f"the run never reached {moment}"
    assert run.returncode == 130, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events[-1]["event"] == "summary" and events[-1]["interrupted"] is True
    assert events[-1]["shells_possibly_open"] == []
    assert len([e for e in events if e["event"] == "host_done"]) == HOSTS
    assert stats(port)["shells_open"] == 0

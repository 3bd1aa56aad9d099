"""Ctrl-C at any moment of `psfleet run`: exit 130 and not one shell left on the hosts.

Half the simulated hosts answer every request 400 ms late, so when SIGINT arrives some
hosts are still authenticating or have a Create in flight while others open their
pools or run their pipelines. The moment is chosen by watching the simulator's counters.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

PASSWORD = "psfleet-demo"
FIRST_ADDRESS = "127.13.1.1"
HOSTS = 12
SCRIPT = "Start-Sleep -Seconds 20; 'late'"


@dataclass
class SlowLab:
    inventory: Path
    port: int

    def stats(self) -> dict[str, Any]:
        url = f"http://{FIRST_ADDRESS}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result


@pytest.fixture(scope="module")
def slow_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowLab]:
    inventory = tmp_path_factory.mktemp("slowlab") / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--faults", "delay:50%@400ms",
    ):  # fmt: skip
        yield SlowLab(inventory, port)


Counts = dict[str, int]
HostMoment = Callable[[Counts, Counts], bool]


def some_host(moment: HostMoment) -> Callable[[dict[str, Any], dict[str, Any]], bool]:
    """True once some host's counters (before the run, now) show it at `moment`."""

    def reached(before: dict[str, Any], now: dict[str, Any]) -> bool:
        return any(moment(before["hosts"][host], now["hosts"][host]) for host in now["hosts"])

    return reached


MOMENTS = {
    # Its first handshake leg is in, its Create not yet.
    "auth": some_host(
        lambda before, now: (
            now["requests"] > before["requests"] and now["shells_opened"] == before["shells_opened"]
        )
    ),
    # Its shell exists, its pool is opening: no command yet.
    "pool_open": some_host(
        lambda before, now: (
            now["shells_opened"] > before["shells_opened"]
            and now["commands_run"] == before["commands_run"]
        )
    ),
    # Every fast host runs its pipeline; the slow ones are somewhere behind.
    "pipelines": lambda before, now: now["executions"] >= before["executions"] + HOSTS // 2,
}


@pytest.mark.parametrize("moment", list(MOMENTS))
@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_sigint_exits_130_and_leaves_no_shell(slow_lab: SlowLab, auth: str, moment: str) -> None:
    before = slow_lab.stats()
    assert before["shells_open"] == 0
    target, inventory = f"node[01-{HOSTS}]", str(slow_lab.inventory)
    command = ["run", target, "--inventory", inventory, "-u", "LAB\\admin", "--auth", auth]
    command += ["--retries", "0", "--json", "-c", SCRIPT]
    run = subprocess.Popen(
        [sys.executable, "-m", "psfleet", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PSFLEET_PASSWORD": PASSWORD},
    )
    try:
        reached = _wait_for(lambda: MOMENTS[moment](before, slow_lab.stats()), within_s=30)
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert reached, f"the run never reached {moment}: {slow_lab.stats()}"
    assert run.returncode == 130, stderr
    events = [json.loads(line) for line in stdout.splitlines()]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["interrupted"] is True
    assert summary["shells_possibly_open"] == []
    assert len([e for e in events if e["event"] == "host_done"]) == HOSTS
    assert "late" not in stdout
    assert slow_lab.stats()["shells_open"] == 0


def _wait_for(condition: Callable[[], bool], *, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False

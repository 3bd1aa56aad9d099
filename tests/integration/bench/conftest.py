"""`psfleet bench` as a user runs it: a subprocess against a `psfleet sim` subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PASSWORD = "psfleet-demo"
RTT_MS = 50.0


@dataclass(frozen=True)
class Lab:
    inventory: Path
    rtt_ms: float


def psfleet(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PSFLEET_PASSWORD": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "psfleet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Four hosts 50 ms away; node04 refuses connections."""
    inventory = tmp_path_factory.mktemp("bench") / "inventory.yml"
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psfleet",
            "sim",
            "--hosts",
            "4",
            "--base-address",
            "127.7.1.1",
            "--port",
            "5985",
            "--rtt-ms",
            str(RTT_MS),
            "--faults",
            "refuse:node04",
            "--inventory",
            str(inventory),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    ready = sim.stdout.readline()
    assert ready.startswith("ready"), ready
    try:
        yield Lab(inventory, RTT_MS)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)


def run_bench(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """`psfleet bench` on the lab's inventory with NTLM as the demo account."""
    login = ["-u", "LAB\\admin", "--auth", "ntlm"]
    return psfleet("bench", "--inventory", str(lab.inventory), *login, *args)

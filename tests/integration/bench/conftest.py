"""`psfleet bench` as a user runs it: a subprocess against a `psfleet sim` subprocess."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

PASSWORD = "psfleet-demo"
RTT_MS = 50.0


@dataclass(frozen=True)
class Lab:
    inventory: Path
    rtt_ms: float


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Four hosts 50 ms away; node04 refuses connections."""
    inventory = tmp_path_factory.mktemp("bench") / "inventory.yml"
    with sim_process(
        "--hosts",
        "4",
        "--base-address",
        "127.7.1.1",
        "--port",
        str(free_port("127.7.1.1")),
        "--rtt-ms",
        str(RTT_MS),
        "--faults",
        "refuse:node04",
        "--inventory",
        str(inventory),
    ):
        yield Lab(inventory, RTT_MS)


def run_bench(lab: Lab, *args: str) -> subprocess.CompletedProcess[str]:
    """`psfleet bench` on the lab's inventory with NTLM as the demo account."""
    login = ["-u", "LAB\\admin", "--auth", "ntlm"]
    return run_psfleet("bench", "--inventory", str(lab.inventory), *login, *args, password=PASSWORD)

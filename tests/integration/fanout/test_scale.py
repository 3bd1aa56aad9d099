"""5000 hosts in one fan-out process against simfleet in two others: no fd errors, no leaks."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

import psfleet
from psfleet.events import HostStatus
from psfleet.testing.ports import free_port
from psfleet.transport.options import Timeouts

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOSTS = 5000
FIRST_ADDRESS = "127.6.0.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def big_fleet(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A 5000-host `psfleet sim` over two worker processes; yields its inventory."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    inventory = tmp_path / "fleet.yml"
    port = free_port(FIRST_ADDRESS)
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psfleet",
            "sim",
            "--hosts",
            str(HOSTS),
            "--workers",
            "2",
            "--base-address",
            FIRST_ADDRESS,
            "--port",
            str(port),
            "--inventory",
            str(inventory),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        ready = sim.stdout.readline()
        assert ready.startswith("ready"), ready
        yield inventory, port
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=60)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{FIRST_ADDRESS}:{port}/stats", timeout=30) as response:
        result: dict[str, Any] = json.load(response)
    return result


async def test_5000_hosts_in_one_process(big_fleet: tuple[Path, int]) -> None:
    inventory, port = big_fleet
    started = time.monotonic()
    result = await psfleet.arun(
        "all",
        "hostname",
        inventory=inventory,
        auth="ntlm",
        credential=("LAB\\admin", "psfleet-demo"),
        throttle=400,
        collect=False,
        timeouts=Timeouts(connect=30, request=60, operation=20, close=30),
    )
    wall = time.monotonic() - started
    assert result.counts[HostStatus.OK] == HOSTS, {
        h.host: h.error_message for h in result if not h.ok
    }
    stats = await anyio.to_thread.run_sync(_stats, port)
    assert stats["shells_open"] == 0
    assert stats["executions"] == HOSTS
    print(f"\n{HOSTS} hosts in {wall:.1f}s ({HOSTS / wall:.0f} hosts/s)")

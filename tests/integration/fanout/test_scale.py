"""5000 hosts in one fan-out process, against simfleet in two other processes: no fd errors, no leaks."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus
from psfleet.transport.options import Timeouts

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOSTS = 5000


def _stats(address: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{address}:5985/stats", timeout=30) as response:
        result: dict[str, Any] = json.load(response)
    return result


async def test_5000_hosts_in_one_process(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    inventory = tmp_path / "fleet.yml"
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
            "127.6.0.1",
            "--port",
            "5985",
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
        counts = result.counts
        assert counts[HostStatus.OK] == HOSTS, {h.host: h.error_message for h in result if not h.ok}
        stats = _stats("127.6.0.1")
        assert stats["shells_open"] == 0
        assert stats["executions"] == HOSTS
        print(f"\n5000 hosts in {wall:.1f}s ({HOSTS / wall:.0f} hosts/s)")
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=60)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

"""5000 hosts in one fan-out process against simfleet in two others: no fd errors, no leaks."""

from __future__ import annotations

import json
import resource
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest

import psfleet
from psfleet.events import HostStatus
from psfleet.loopwatch import LoopWatchdog
from psfleet.testing.sim_process import sim_process
from psfleet.transport.options import Timeouts
from tests.support.loopguard import no_loop_stall
from tests.support.ports import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOSTS = 5000
FIRST_ADDRESS = "127.6.0.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def loop_watchdog(big_fleet: tuple[Path, int]) -> AsyncIterator[LoopWatchdog]:
    """The watch starts once the fleet is up: its start is a synchronous subprocess wait
    on the loop's thread, a fixture's stall and not psfleet's."""
    async with no_loop_stall() as watchdog:
        yield watchdog


@pytest.fixture
def big_fleet(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A 5000-host `psfleet sim` over two worker processes; yields its inventory and port."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    inventory = tmp_path / "fleet.yml"
    port = free_port(FIRST_ADDRESS)
    try:
        with sim_process(
            "--hosts", str(HOSTS), "--workers", "2", "--base-address", FIRST_ADDRESS,
            "--port", str(port), "--inventory", str(inventory),
        ):  # fmt: skip
            yield inventory, port
    finally:
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

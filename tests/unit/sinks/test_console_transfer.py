"""ConsoleSink during copy and fetch: one transfer bar (bytes, bytes/s, hosts done, ETA)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

import psfleet
from psfleet.events import HostDone, HostStarted, HostStatus, TransferProgress
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.targets.model import Target
from psfleet_plugins.sinks.console import ConsoleSink

from .conftest import CREDENTIAL

pytestmark = pytest.mark.anyio


def recording_console() -> Console:
    return Console(file=io.StringIO(), record=True, force_terminal=True, width=160)


async def test_transfer_progress_turns_the_bar_into_bytes_across_the_fleet() -> None:
    console = recording_console()
    sink = ConsoleSink(console, total=4)
    for host in ("node01", "node02"):
        await sink.handle(HostStarted(host, 1))
    await sink.handle(TransferProgress("node01", 1_000_000, 2_000_000))
    await sink.handle(TransferProgress("node02", 500_000, 2_000_000))
    sink.close()  # the last frame: rich draws the bar once more as it stops
    text = console.export_text()
    # 1.5 MB of 4 hosts x 2 MB (two hosts not heard from yet count at the same size).
    assert "transfer" in text and "1.5/8.0 MB" in text
    assert "0/4 hosts" in text and "0 failed" in text


async def test_a_done_host_counts_what_it_moved_and_a_fetch_without_sizes_has_no_total() -> None:
    console = recording_console()
    sink = ConsoleSink(console, total=2)
    await sink.handle(HostStarted("node01", 1))
    await sink.handle(TransferProgress("node01", 300_000, 0))  # fetch: size not known yet
    await sink.handle(HostStarted("node02", 1))
    await sink.handle(HostDone("node02", HostStatus.OK, 0.1, 1, bytes=0, changed=False))
    await sink.handle(HostDone("node01", HostStatus.FAILED, 0.2, 1, error_type="DiskFull"))
    sink.close()
    text = console.export_text()
    assert "300.0 kB" in text  # moved so far: no total, so no "x/y"
    assert "/300.0 kB" in text  # once every host is done, the total is what they moved
    assert "2/2 hosts 1 failed" in text


async def test_a_real_copy_draws_the_transfer_bar_and_ends_with_the_summary(
    tmp_path: Path,
) -> None:
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(400_000))
    console = recording_console()
    async with SimFleet(SimConfig(hosts=2, base_address="127.29.1.1", port=0)) as fleet:
        targets = [Target(h.name, h.address, h.port) for h in fleet.hosts]
        result = await psfleet.acopy(
            targets,
            src,
            "C:\\Windows\\Temp\\payload.bin",
            sinks=[ConsoleSink(console, total=2)],
            auth="ntlm",
            credential=CREDENTIAL,
        )
    assert result.ok
    text = console.export_text()
    assert "transfer" in text and "/800.0 kB" in text and "/2 hosts" in text
    assert "B/s" in text  # the fleet's rate
    assert text.rstrip().endswith("┘")  # the summary table comes last, below the bar

"""The Python API: streams of events, script failures, double hop, and pools kept open by Fleet."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

import psfleet
from psfleet.events import HostDone, HostStarted, RecordEvent, RunSummary, Stream

pytestmark = pytest.mark.anyio


async def test_stream_yields_records_then_one_done_per_host_then_the_summary(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=3)
    events = []
    async with contextlib.aclosing(
        psfleet.stream(targets_of(fleet), "Write-Warning 'w'; 1..2", **run_settings())
    ) as stream:
        async for event in stream:
            events.append(event)
    assert isinstance(events[-1], RunSummary)
    for host in ("node01", "node02", "node03"):
        mine = [e for e in events if getattr(e, "host", None) == host]
        assert isinstance(mine[0], HostStarted) and isinstance(mine[-1], HostDone)
        records = [e for e in mine if isinstance(e, RecordEvent)]
        assert [(r.stream, r.data) for r in records if r.stream is Stream.OUTPUT] == [
            (Stream.OUTPUT, 1),
            (Stream.OUTPUT, 2),
        ]
        assert [r.stream for r in records].count(Stream.WARNING) == 1


async def test_script_errors_fail_the_host_and_stop_later_commands(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1)
    result = await psfleet.arun(
        targets_of(fleet), ["Get-Nothing", "throw 'boom'", "'never'"], **run_settings()
    )
    host = result.hosts["node01"]
    assert host.status is psfleet.HostStatus.FAILED
    assert host.error_message == "boom"
    assert "never" not in host.output
    assert len(host.errors) == 2  # the unknown command, then the terminating error


async def test_ntlm_session_hitting_a_second_host_is_a_diagnosed_double_hop(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=2, cluster="CLUSTER01")
    result = await psfleet.arun(
        targets_of(fleet)[:1], "Invoke-Command -ComputerName node02 { hostname }", **run_settings()
    )
    host = result.hosts["node01"]
    assert host.status is psfleet.HostStatus.DOUBLE_HOP_DENIED
    assert host.remedy is not None
    assert "Enable-WSManCredSSP" in host.remedy and "--delegate" in host.remedy
    assert "node02" in host.remedy


async def test_fleet_keeps_pools_open_between_commands(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=4)
    async with psfleet.Fleet(targets_of(fleet), **run_settings()) as kept:
        first = await kept.invoke("hostname")
        second = await kept.invoke("$env:COMPUTERNAME.ToLower()")
        assert sorted(kept.open_hosts) == ["node01", "node02", "node03", "node04"]
        assert fleet.stats()["shells_open"] == 4
    assert first.ok and second.ok
    assert second.hosts["node03"].output == ["node03"]
    stats = fleet.stats()
    assert stats["shells_opened"] == 4 and stats["shells_open"] == 0


async def test_a_secure_string_argument_is_sealed_per_host_with_each_pools_key(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=3)
    marshal = "[Runtime.InteropServices.Marshal]"
    script = f"param($s) {marshal}::PtrToStringAuto({marshal}::SecureStringToBSTR($s))"
    result = await psfleet.arun(
        targets_of(fleet),
        script,
        args=[psfleet.SecureString.from_plain("Passw0rd!")],
        **run_settings(),
    )
    assert {name: host.output for name, host in result.hosts.items()} == {
        "node01": ["Passw0rd!"],
        "node02": ["Passw0rd!"],
        "node03": ["Passw0rd!"],
    }

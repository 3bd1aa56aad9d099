"""500 hosts with seeded faults of every kind: each ends with the status its fault implies."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import psfleet
from psfleet.events import HostDone, HostStatus, RunSummary

pytestmark = pytest.mark.anyio

FAULTS = (
    "refuse:4%,blackhole:2%,drop:3%,authfail:3%,http500:2%,http503:2%,"
    "delay:4%@50ms,slow:2%@300ms,flap:2%@1"
)
EXPECTED = {
    "none": HostStatus.OK,
    "refuse": HostStatus.UNREACHABLE,
    "blackhole": HostStatus.TIMEOUT,
    "drop": HostStatus.UNREACHABLE,
    "authfail": HostStatus.AUTH_FAILED,
    "http500": HostStatus.UNREACHABLE,
    "http503": HostStatus.UNREACHABLE,
    "delay": HostStatus.OK,
    "slow": HostStatus.OK,
    "flap": HostStatus.OK,
}


class Recorder:
    def __init__(self) -> None:
        self.events: list[object] = []

    async def handle(self, event: object) -> None:
        self.events.append(event)


async def test_every_host_ends_with_the_status_its_fault_implies(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=500, faults=FAULTS, seed=11)
    recorder = Recorder()
    result = await psfleet.arun(
        targets_of(fleet),
        "hostname",
        sinks=[recorder],
        **run_settings(throttle=128, retries=3, host_timeout=8.0),
    )
    faults = {h.name: h.fault for h in fleet.hosts}
    assert Counter(faults.values())["none"] == 380
    mismatched = {
        name: (faults[name], host.status, host.error_message)
        for name, host in result.hosts.items()
        if host.status is not EXPECTED[faults[name]]
    }
    assert mismatched == {}

    done = [e for e in recorder.events if isinstance(e, HostDone)]
    assert sorted(e.host for e in done) == sorted(faults)  # one final status each, none lost
    assert isinstance(recorder.events[-1], RunSummary)
    assert recorder.events[-1].counts[HostStatus.OK] == sum(
        1 for f in faults.values() if EXPECTED[f] is HostStatus.OK
    )
    stats = fleet.stats()
    assert stats["shells_open"] == 0
    # hostname ran once on every host that got as far as a command, never twice.
    ran = [n for n, f in faults.items() if f in ("none", "delay", "slow", "flap", "drop")]
    assert all(stats["hosts"][n]["executions"] == 1 for n in ran)

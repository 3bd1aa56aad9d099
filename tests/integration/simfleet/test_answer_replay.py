"""Deterministic pipelines are answered from the host's recorded answer, exactly as run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan
from raw_wsman import PASSWORD, USER, RawPeer

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(
        hosts=3, cluster="CL01", base_address="127.1.37.1", port=0, allow_unencrypted=True
    )
    with fleet_in_thread(config) as running:
        yield running


def counters(fleet: ThreadedFleet, host: str) -> tuple[int, int]:
    stats = fleet.stats(host)
    return stats["executions"], stats["replayed"]


def test_a_repeated_deterministic_script_is_replayed_with_the_same_output(
    fleet: ThreadedFleet,
) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool()
    before = counters(fleet, "node01")
    first = pool.run("Get-Service WinRM; $env:COMPUTERNAME; Write-Warning 'w'")
    second = pool.run("Get-Service WinRM; $env:COMPUTERNAME; Write-Warning 'w'")
    assert counters(fleet, "node01") == (before[0] + 2, before[1] + 1)
    assert [str(o) for o in second.output] == [str(o) for o in first.output]
    assert second.output[1] == "NODE01"
    assert second.output[0].ServiceName == "WinRM"
    assert second.state == first.state
    assert pool.close().status == 200


def test_a_script_that_reads_the_clock_runs_every_time(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool()
    before = counters(fleet, "node01")
    pool.run("Get-Date")
    pool.run("Get-Date")
    assert counters(fleet, "node01") == (before[0] + 2, before[1])
    assert pool.close().status == 200


def test_each_host_replays_its_own_answer(fleet: ThreadedFleet) -> None:
    for _ in range(2):
        for index, name in enumerate(("NODE01", "NODE02")):
            pool = RawPeer(fleet.hosts[index]).open_pool()
            assert pool.run("$env:COMPUTERNAME").output == [name]
            assert pool.close().status == 200


def test_a_failed_pipeline_is_replayed_failed(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[1]).open_pool()
    runs = [pool.run("$ErrorActionPreference = 'Stop'; Get-Nothing") for _ in range(2)]
    assert [r.state for r in runs] == [runs[0].state] * 2
    assert str(runs[0].state) == str(runs[1].state) and "Failed" in str(runs[1].state)
    assert pool.close().status == 200


def test_a_replayed_answer_is_framed_for_the_pool_that_asks(fleet: ThreadedFleet) -> None:
    peer = RawPeer(fleet.hosts[2])
    large = peer.open_pool()
    assert len(large.run("1..3000").output) == 3000  # recorded with 150 KB envelopes
    small = peer.open_pool(max_envelope=20_000)
    replayed = small.run("1..3000")
    assert replayed.output == list(range(1, 3001))
    assert all(len(a.body) <= 20_000 for a in replayed.answers)
    assert large.close().status == small.close().status == 200


def test_delegation_is_part_of_the_key(fleet: ThreadedFleet) -> None:
    host = fleet.hosts[2]
    script = "[string](Invoke-Command -ComputerName node01 { hostname })"
    results = []
    for auth in ("ntlm", "credssp", "ntlm"):
        wsman = WSMan(
            host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth=auth
        )
        with RunspacePool(wsman) as pool:
            ps = PowerShell(pool)
            ps.add_script(script)
            output = [str(o) for o in ps.invoke()]
            results.append((output, [str(e) for e in ps.streams.error]))
    assert results[2] == results[0] == ([""], [results[0][1][0]])
    assert "Access is denied" in results[0][1][0]  # NTLM cannot make the second hop
    assert results[1] == (["NODE01"], [])  # CredSSP can

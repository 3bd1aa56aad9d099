"""Unmodified pypsrp 0.9.1, whose disconnect support was written against Windows, works
against simfleet's Disconnect, Reconnect, Connect and Enumerate (127.27.6.x)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
SLOW = '1..4 | ForEach-Object { Start-Sleep -Milliseconds 150; "step $_" }'


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(SimConfig(hosts=2, base_address="127.27.6.1", port=0)) as running:
        yield running


def wsman(fleet: ThreadedFleet, index: int) -> WSMan:
    host = fleet.hosts[index]
    return WSMan(
        host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth="ntlm"
    )


def test_another_pypsrp_client_finds_connects_and_receives(fleet: ThreadedFleet) -> None:
    with wsman(fleet, 0) as first:
        pool = RunspacePool(first)
        pool.open()
        ps = PowerShell(pool)
        ps.add_script(SLOW)
        ps.begin_invoke()
        pool.disconnect()
    with wsman(fleet, 0) as second:
        [found] = RunspacePool.get_runspace_pools(second)  # Enumerate, as Get-PSSession
        assert str(found.id).upper() == str(pool.id).upper()
        [command] = found.pipelines.values()
        found.connect()
        output = command.connect()  # type: ignore[no-untyped-call]  # pypsrp leaves it untyped
        found.close()
    assert [str(line) for line in output] == [f"step {n}" for n in range(1, 5)]
    assert fleet.stats(fleet.hosts[0].name)["shells_open"] == 0


def test_the_same_pypsrp_client_reconnects(fleet: ThreadedFleet) -> None:
    with wsman(fleet, 1) as connection:
        pool = RunspacePool(connection)
        pool.open()
        pool.disconnect()
        pool.connect()  # Reconnect: the client that disconnected
        ps = PowerShell(pool)
        ps.add_script("'back'")
        assert [str(line) for line in ps.invoke()] == ["back"]
        pool.close()
    assert fleet.stats(fleet.hosts[1].name)["shells_open"] == 0

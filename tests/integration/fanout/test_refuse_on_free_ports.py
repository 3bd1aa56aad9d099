"""A `refuse` host on a fleet of free ports still has a real port, where nothing listens."""

from __future__ import annotations

from pathlib import Path

import pytest

import psfleet
from psfleet.simfleet.config import SimConfig
from psfleet.simfleet.fleet import SimFleet

pytestmark = pytest.mark.anyio


async def test_a_refusing_host_gets_a_port_that_refuses_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    config = SimConfig(hosts=3, base_address="127.1.38.1", port=0, faults="refuse:node02")
    async with SimFleet(config) as fleet:
        inventory = tmp_path / "lab.yml"
        fleet.write_inventory(inventory)
        ports = {host.name: host.port for host in fleet.hosts}
        assert all(0 < port < 65536 for port in ports.values()), ports
        result = await psfleet.arun(
            "all",
            "$env:COMPUTERNAME",
            inventory=inventory,
            auth="ntlm",
            credential=("LAB\\admin", "psfleet-demo"),
            retries=0,
        )
    statuses = {name: host.status for name, host in result.hosts.items()}
    assert statuses == {"node01": "ok", "node02": "unreachable", "node03": "ok"}
    assert "refused" in str(result.hosts["node02"].error_message).lower()

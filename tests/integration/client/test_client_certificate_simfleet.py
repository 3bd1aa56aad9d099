"""psfleet's certificate auth against simfleet: one host with connect(), several with arun()."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import psfleet
from psfleet import errors
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.targets import Target

pytestmark = pytest.mark.anyio


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    config = SimConfig(hosts=3, base_address="127.1.70.101", port=0, tls=True)
    async with SimFleet(config) as started:
        yield started


async def test_connect_runs_as_the_mapped_account(fleet: SimFleet) -> None:
    cert, key = fleet.issue_client_certificate("admin")
    host = fleet.hosts[0]
    async with psfleet.connect(
        host.name,
        address=host.address,
        port=host.port,
        tls=True,
        auth="certificate",
        client_cert=cert,
        client_key=key,
        ca_file=fleet.ca_file,
    ) as pool:
        result = await pool.invoke("whoami; hostname")
    assert result.output == ["lab\\admin", "NODE01"]
    assert fleet.stats()["shells_open"] == 0
    assert fleet.stats()["auth_failures"] == 0


async def test_fan_out_with_a_client_certificate(fleet: SimFleet) -> None:
    cert, key = fleet.issue_client_certificate()
    result = await psfleet.arun(
        [Target(h.name, h.address, h.port) for h in fleet.hosts],
        "hostname",
        auth="certificate",
        client_cert=cert,
        client_key=key,
        ca_file=fleet.ca_file,
        tls=True,
    )
    assert result.ok
    assert {name: host.output for name, host in result.hosts.items()} == {
        "node01": ["NODE01"],
        "node02": ["NODE02"],
        "node03": ["NODE03"],
    }
    assert fleet.stats()["shells_open"] == 0


async def test_a_certificate_nobody_is_mapped_to_is_an_auth_error(fleet: SimFleet) -> None:
    cert, key = fleet.issue_client_certificate("nobody")
    host = fleet.hosts[0]
    with pytest.raises(errors.AuthError):
        async with psfleet.connect(
            host.name,
            address=host.address,
            port=host.port,
            tls=True,
            auth="certificate",
            client_cert=cert,
            client_key=key,
            ca_file=fleet.ca_file,
        ):
            pass
    assert fleet.stats()["auth_failures"] >= 1

"""Kerberos end to end: psfleet client, simfleet acceptor, a real MIT KDC, and the double hop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

import psfleet
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.targets.model import Target
from psfleet.testing.kdc import MitKdc

pytestmark = pytest.mark.anyio
SECOND_HOP = "Invoke-Command -ComputerName node02 { $env:COMPUTERNAME }"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet(kdc: MitKdc) -> AsyncIterator[SimFleet]:
    # nospn03 has no HTTP/ principal in the KDC: no ticket can be had for it.
    config = SimConfig(
        names=("node01", "node02", "nospn03"),
        cluster="CLUSTER01",
        base_address="127.4.1.1",
        port=5985,
        kerberos_keytab=kdc.keytab,
    )
    async with SimFleet(config) as running:
        yield running


def _target(fleet: SimFleet, name: str) -> Target:
    host = fleet.host(name)
    return Target(host.name, host.address, host.port)


async def test_kerberos_without_delegation_cannot_make_the_second_hop(fleet: SimFleet) -> None:
    result = await psfleet.arun(
        [_target(fleet, "node01")], SECOND_HOP, auth="kerberos", credential="kerberos"
    )
    host = result.hosts["node01"]
    assert host.status is psfleet.HostStatus.DOUBLE_HOP_DENIED, host.error_message
    assert host.remedy is not None and "--delegate" in host.remedy
    assert fleet.stats("node01")["auth_failures"] == 0


async def test_kerberos_with_delegation_reaches_the_second_hop(fleet: SimFleet) -> None:
    result = await psfleet.arun(
        [_target(fleet, "node01")],
        [SECOND_HOP, "Test-Cluster | Select-Object -ExpandProperty Name"],
        auth="kerberos",
        credential="kerberos",
        delegate=True,
    )
    host = result.hosts["node01"]
    assert host.status is psfleet.HostStatus.OK, host.error_message
    assert host.output[0] == "NODE02"
    assert str(host.output[1]).startswith("Validation Report")
    assert fleet.stats()["shells_open"] == 0


async def test_negotiate_picks_kerberos_when_a_ticket_exists(fleet: SimFleet) -> None:
    # Only a Kerberos session can delegate: reaching node02 proves Negotiate chose Kerberos.
    result = await psfleet.arun(
        [_target(fleet, "node01")],
        SECOND_HOP,
        auth="negotiate",
        credential="kerberos",
        delegate=True,
    )
    assert result.hosts["node01"].status is psfleet.HostStatus.OK
    assert result.hosts["node01"].output == ["NODE02"]


async def test_a_host_without_a_service_principal_is_an_auth_failure(fleet: SimFleet) -> None:
    result = await psfleet.arun(
        [_target(fleet, "nospn03")], "hostname", auth="kerberos", credential="kerberos", retries=0
    )
    assert result.hosts["nospn03"].status is psfleet.HostStatus.AUTH_FAILED

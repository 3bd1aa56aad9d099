"""Kerberos from the ticket cache against simfleet with a real MIT KDC, message encryption on HTTP.

With `delegate=True` the session holds a forwarded TGT and reaches a second host;
without it the second hop is denied, as on Windows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from psfleet.client import connect
from psfleet.session import PipelineState
from psfleet.testing.kdc import MitKdc, available

from .conftest import FleetFactory

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]

HOSTS = ("node01", "node02")


@pytest.fixture(scope="module")
def kdc() -> Iterator[MitKdc]:
    if not available():
        pytest.skip("the MIT KDC packages are not installed")
    with MitKdc(password="Adm1n-Passw0rd!", hosts=HOSTS) as server:
        server.kinit()
        yield server


@pytest.fixture
def kerberos_env(kdc: MitKdc) -> Iterator[MitKdc]:
    with kdc.applied_env():
        yield kdc


@pytest.mark.parametrize("auth", ["kerberos", "negotiate"])
async def test_kerberos_ticket_cache_with_encryption(
    kerberos_env: MitKdc, fleet_factory: FleetFactory, auth: str
) -> None:
    fleet = await fleet_factory(names=HOSTS, kerberos_keytab=kerberos_env.keytab)
    host = fleet.hosts[0]
    async with connect(
        host.name, address=host.address, port=host.port, auth=auth, credential="kerberos"
    ) as pool:
        result = await pool.invoke("$env:COMPUTERNAME")
    assert result.output == ["NODE01"]
    assert fleet.stats()["shells_open"] == 0


@pytest.mark.parametrize("delegate", [False, True])
async def test_delegation_decides_the_second_hop(
    kerberos_env: MitKdc, fleet_factory: FleetFactory, delegate: bool
) -> None:
    fleet = await fleet_factory(names=HOSTS, kerberos_keytab=kerberos_env.keytab)
    host = fleet.hosts[0]
    async with connect(
        host.name,
        address=host.address,
        port=host.port,
        auth="kerberos",
        credential="kerberos",
        delegate=delegate,
    ) as pool:
        result = await pool.invoke("Invoke-Command -ComputerName node02 { $env:COMPUTERNAME }")
    if delegate:
        assert result.output == ["NODE02"]
        assert not result.had_errors
    else:
        assert result.output == []
        assert result.had_errors or result.state is PipelineState.FAILED


async def test_kerberos_over_https_carries_the_binding_a_strict_host_checks(
    kerberos_env: MitKdc, fleet_factory: FleetFactory
) -> None:
    # MIT's acceptor compares the bindings when the client sends them (a wrong hash is
    # GSS_S_BAD_BINDINGS); it accepts a client that sends none, so simfleet's Strict is
    # enforced for NTLM only (test_channel_binding_simfleet).
    fleet = await fleet_factory(
        names=HOSTS, kerberos_keytab=kerberos_env.keytab, tls=True, cbt_hardening="strict"
    )
    host = fleet.hosts[0]
    async with connect(
        host.name,
        address=host.address,
        port=host.port,
        tls=True,
        ca_file=fleet.ca_file,
        auth="kerberos",
        credential="kerberos",
    ) as pool:
        assert (await pool.invoke("$env:COMPUTERNAME")).output == ["NODE01"]
    assert fleet.stats()["auth_failures"] == 0

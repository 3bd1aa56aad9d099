"""Each host's service ticket lives in that host's copy of the run's TGT, not in one ccache
for the whole run (MIT searches a ccache linearly: 1000 hosts' tickets slowed every context).

Real MIT KDC, simfleet over real sockets; the KDC's log counts the service-ticket requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import krb5
import pytest

from psfleet.simfleet import SimConfig, SimFleet
from psfleet.testing.kdc import MitKdc
from psfleet.transport.channel import Channel
from psfleet.transport.credentials import CredentialBroker
from psfleet.transport.options import (
    AuthMethod,
    AuthOptions,
    Credential,
    Endpoint,
    Timeouts,
    TLSOptions,
)
from psfleet.wsman.identify import IDENTIFY_REQUEST

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]
ADDRESS = "127.31.0.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet(kdc: MitKdc) -> AsyncIterator[SimFleet]:
    config = SimConfig(
        names=("node01", "node02"), base_address=ADDRESS, port=0, kerberos_keytab=kdc.keytab
    )
    async with SimFleet(config) as running:
        yield running


def kerberos_auth(kdc: MitKdc, broker: CredentialBroker) -> AuthOptions:
    credential = Credential(kdc.principal, kdc.password)
    return AuthOptions(method=AuthMethod.KERBEROS, credential=credential, broker=broker)


def holds_tickets(name: str) -> bool:
    """Whether the MEMORY ccache `name` still exists (a destroyed one has no principal)."""
    context = krb5.init_context()
    try:
        krb5.cc_get_principal(context, krb5.cc_resolve(context, name.encode()))
    except krb5.Krb5Error:
        return False
    return True


async def tgs_for(kdc: MitKdc, start: int, host: str, expected: int) -> int:
    def count() -> int:
        return sum(
            f"for HTTP/{host}" in line and "TGS_REQ" in line for line in kdc.log_lines(start)
        )

    with anyio.move_on_after(5):  # krb5kdc logs a request just after answering it
        while count() < expected:  # noqa: ASYNC110 - a file written by another process
            await anyio.sleep(0.05)
    await anyio.sleep(0.3)  # and no more arrive
    return count()


async def test_a_hosts_channels_share_its_copy_and_the_last_one_destroys_it(
    kdc: MitKdc, fleet: SimFleet
) -> None:
    broker = CredentialBroker()
    auth = kerberos_auth(kdc, broker)
    gate = broker.gate(auth)
    first = await gate.plan(auth, "node01")
    second = await gate.plan(auth, "node01")
    other = await gate.plan(auth, "node02")
    assert first.ccache is not None and second.ccache is first.ccache
    assert other.ccache is not None and other.ccache is not first.ccache
    name = first.ccache.ticket.name
    gate.release(first)
    assert holds_tickets(name)
    gate.release(second)
    assert not holds_tickets(name)
    broker.close()  # destroys what no channel gave back
    assert not holds_tickets(other.ccache.ticket.name)


async def test_a_hosts_second_connection_reuses_its_service_ticket(
    kdc: MitKdc, fleet: SimFleet
) -> None:
    broker = CredentialBroker()
    auth = kerberos_auth(kdc, broker)
    host = fleet.hosts[0]
    endpoint = Endpoint(host.name, address=host.address, port=host.port)
    start = kdc.log_size()
    channels = [Channel(endpoint, auth, TLSOptions(), Timeouts()) for _ in range(2)]
    try:
        for channel in channels:  # one after the other: the second finds the ticket cached
            assert b"IdentifyResponse" in await channel.request(IDENTIFY_REQUEST)
        assert await tgs_for(kdc, start, host.name, 1) == 1
    finally:
        for channel in channels:
            await channel.aclose()
    # The copy went with the host's last channel: its next connection asks the KDC again.
    again = Channel(endpoint, auth, TLSOptions(), Timeouts())
    try:
        assert b"IdentifyResponse" in await again.request(IDENTIFY_REQUEST)
    finally:
        await again.aclose()
        broker.close()
    assert await tgs_for(kdc, start, host.name, 2) == 2


async def test_a_channel_that_reconnects_keeps_its_hosts_service_ticket(
    kdc: MitKdc, fleet: SimFleet
) -> None:
    broker = CredentialBroker()
    host = fleet.hosts[1]
    endpoint = Endpoint(host.name, address=host.address, port=host.port)
    start = kdc.log_size()
    # A connection idle longer than `idle` is not reused: the channel authenticates a new one.
    channel = Channel(endpoint, kerberos_auth(kdc, broker), TLSOptions(), Timeouts(idle=0.1))
    try:
        for _ in range(2):
            assert b"IdentifyResponse" in await channel.request(IDENTIFY_REQUEST)
            await anyio.sleep(0.2)  # outlive the idle timeout
        assert await tgs_for(kdc, start, host.name, 1) == 1
    finally:
        await channel.aclose()
        broker.close()

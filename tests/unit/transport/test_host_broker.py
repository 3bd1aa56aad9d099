"""A HostTransport never makes a credential broker silently: the run's, or its own by name."""

from __future__ import annotations

import pytest

from psfleet.transport.credentials import CredentialBroker
from psfleet.transport.host import HostTransport
from psfleet.transport.options import AuthOptions, Credential, Endpoint, Timeouts

pytestmark = pytest.mark.anyio

ENDPOINT = Endpoint("node01", address="127.41.0.1")
AUTH = AuthOptions(credential=Credential("LAB\\admin", "secret-pw"))


def test_a_transport_without_the_runs_broker_is_refused_and_says_what_to_use() -> None:
    with pytest.raises(ValueError, match="run's CredentialBroker") as refused:
        HostTransport(ENDPOINT, AUTH)
    assert "HostTransport.alone" in str(refused.value)
    assert "secret-pw" not in str(refused.value)


async def test_a_transport_alone_makes_its_own_broker_and_closes_it() -> None:
    alone = HostTransport.alone(ENDPOINT, AUTH)
    await alone.aclose()


async def test_a_transport_given_the_runs_broker_is_built() -> None:
    broker = CredentialBroker.for_settings(AUTH, Timeouts())
    try:
        transport = HostTransport(ENDPOINT, AuthOptions(broker=broker))
        await transport.aclose()
    finally:
        broker.close()

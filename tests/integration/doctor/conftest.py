"""psfleet doctor against simulated fleets on 127.3.N.x, over real sockets.

A fixed port (5985/5986): a refused host is one where nothing listens on it.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from psfleet.client import ClientOptions, client_options
from psfleet.doctor import DoctorReport, diagnose
from psfleet.simfleet import SimFleet
from psfleet.transport.options import Endpoint, Timeouts
from tests.support.fleets import fleet_starter

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
# Waits long enough for a busy test machine; FAST where a host is meant not to answer.
PATIENT = Timeouts(connect=5.0, request=15.0, operation=5.0, close=5.0)
FAST = Timeouts(connect=2.0, request=2.0, operation=3.0, close=2.0)
_networks = itertools.count(1)
# Like Debian's default krb5.conf: a default realm, no realm LAB and no DNS to find one.
NO_LAB_REALM = """[libdefaults]
    default_realm = ATHENA.MIT.EDU
    dns_lookup_kdc = false
    dns_lookup_realm = false
[realms]
    ATHENA.MIT.EDU = {
        kdc = kerberos.mit.edu
    }
"""

FleetFactory = Callable[..., Any]


def next_network() -> str:
    return f"127.3.{next(_networks)}.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet_factory() -> AsyncIterator[FleetFactory]:
    """Start fleets on their own loopback network; every one stops when the test ends."""
    async with fleet_starter(iter(next_network, None), hosts=3) as start:
        yield start


def options(**settings: Any) -> ClientOptions:
    settings.setdefault("auth", "ntlm")
    settings.setdefault("credential", (USER, PASSWORD))
    settings.setdefault("timeouts", PATIENT)
    return client_options(**settings)


async def doctor_on(
    fleet: SimFleet,
    name: str,
    *,
    as_name: str | None = None,
    second_hop: str | None = None,
    **settings: Any,
) -> DoctorReport:
    """Diagnose a simulated host by its address, under its own name or `as_name`."""
    host = fleet.host(name)
    endpoint = Endpoint(
        as_name or host.name, address=host.address, port=host.port, tls=fleet.config.tls
    )
    return await diagnose(endpoint, options(**settings), second_hop=second_hop)

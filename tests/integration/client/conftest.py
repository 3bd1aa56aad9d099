"""The client against a simulated fleet over real sockets, both on this test's event loop."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from psfleet import eventloop
from psfleet.simfleet import SimFleet
from tests.support.fleets import fleet_starter

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
_subnets = itertools.count(30)

FleetFactory = Callable[..., Any]


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    # The loop psfleet itself runs on (uvloop when installed); other suites use asyncio's.
    return eventloop.anyio_backend()


@pytest.fixture
async def fleet_factory() -> AsyncIterator[FleetFactory]:
    """Start fleets on their own loopback addresses; all stop when the test ends."""
    addresses = (f"127.1.{n}.1" for n in _subnets)
    async with fleet_starter(addresses, hosts=2, port=0) as start:
        yield start


@pytest.fixture
async def fleet(fleet_factory: FleetFactory) -> SimFleet:
    result: SimFleet = await fleet_factory()
    return result

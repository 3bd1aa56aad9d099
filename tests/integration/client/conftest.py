"""The client against a simulated fleet over real sockets, both on this test's event loop."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from psfleet.simfleet import SimConfig, SimFleet

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
_subnets = itertools.count(30)

FleetFactory = Callable[..., Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet_factory() -> AsyncIterator[FleetFactory]:
    """Start fleets on their own loopback addresses; all stop when the test ends."""
    started: list[SimFleet] = []

    async def start(**settings: Any) -> SimFleet:
        settings.setdefault("hosts", 2)
        base = f"127.1.{next(_subnets)}.1"
        fleet = SimFleet(SimConfig(base_address=base, port=0, **settings))
        await fleet.__aenter__()
        started.append(fleet)
        return fleet

    yield start
    for fleet in started:
        await fleet.__aexit__(None, None, None)


@pytest.fixture
async def fleet(fleet_factory: FleetFactory) -> SimFleet:
    result: SimFleet = await fleet_factory()
    return result

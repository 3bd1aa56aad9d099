"""copy and fetch against simulated fleets on 127.26.N.x, over real sockets."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from psfleet import eventloop
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from psfleet.transport.options import Timeouts
from tests.support.fleets import StartFleet, fleet_starter

CREDENTIAL = ("LAB\\admin", "psfleet-demo")
FAST = Timeouts(connect=2.0, request=5.0, operation=5.0, close=2.0)
_networks = itertools.count(1)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return eventloop.anyio_backend()


@pytest.fixture
async def start_fleet() -> AsyncIterator[StartFleet]:
    """Fleets on their own 127.26.N.x addresses (N from 8 up), on free ports."""
    addresses = (f"127.26.{8 + n}.1" for n in _networks)
    async with fleet_starter(addresses, port=0) as start:
        yield start


def targets(fleet: SimFleet) -> list[Target]:
    return [Target(h.name, h.address, h.port) for h in fleet.hosts]


def settings(**overrides: Any) -> dict[str, Any]:
    return {"auth": "ntlm", "credential": CREDENTIAL, "timeouts": FAST, "retries": 0, **overrides}


@pytest.fixture
def run_settings() -> Callable[..., dict[str, Any]]:
    return settings

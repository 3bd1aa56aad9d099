"""The fan-out against simulated fleets on this test's event loop, over real sockets."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from psfleet import eventloop
from psfleet.loopwatch import LoopWatchdog
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from psfleet.transport.options import Timeouts
from tests.support.fleets import fleet_starter
from tests.support.loopguard import no_loop_stall

CREDENTIAL = ("LAB\\admin", "psfleet-demo")
# Short waits keep blackholed hosts from dominating the run time.
FAST = Timeouts(connect=2.0, request=2.0, operation=5.0, close=2.0)
_networks = itertools.count(1)

FleetFactory = Callable[..., Any]


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    # The loop psfleet itself runs on (uvloop when installed); other suites use asyncio's.
    return eventloop.anyio_backend()


@pytest.fixture
async def fleet_factory() -> AsyncIterator[FleetFactory]:
    """Fleets on their own 127.2.N.x addresses and a fixed port (refused hosts need one)."""
    addresses = (f"127.2.{n * 4}.1" for n in _networks)
    async with fleet_starter(addresses, port=5985) as start:
        yield start


def _targets_of(fleet: SimFleet) -> list[Target]:
    return [Target(h.name, h.address, h.port) for h in fleet.hosts]


def _run_settings(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "auth": "ntlm",
        "credential": CREDENTIAL,
        "timeouts": FAST,
        "throttle": 64,
    }
    settings.update(overrides)
    return settings


@pytest.fixture
def targets_of() -> Callable[[SimFleet], list[Target]]:
    """Targets for every host of a fleet (name, address, port)."""
    return _targets_of


@pytest.fixture
def run_settings() -> Callable[..., dict[str, Any]]:
    """Keyword settings for psfleet.arun/Fleet: NTLM with the demo account, short timeouts."""
    return _run_settings


@pytest.fixture(autouse=True)
async def loop_watchdog() -> AsyncIterator[LoopWatchdog]:
    """Every fan-out test fails if the event loop was blocked for a second or more.

    A blocking network call (a KDC, DNS) costs seconds; no CPU-bound step of ours
    comes near a second, even on a loaded machine.
    """
    async with no_loop_stall() as watchdog:
        yield watchdog

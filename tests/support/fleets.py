"""Start in-process simulated fleets for a test; every one stops when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from psfleet.simfleet import SimConfig, SimFleet

StartFleet = Callable[..., Awaitable[SimFleet]]


@asynccontextmanager
async def fleet_starter(addresses: Iterator[str], **defaults: Any) -> AsyncIterator[StartFleet]:
    """`await start(**settings)` runs a SimFleet on the next base address from `addresses`.

    Settings override `defaults`; the fleets stop in reverse order when the block ends,
    including those started before one that failed to start.
    """
    async with AsyncExitStack() as stack:

        async def start(**settings: Any) -> SimFleet:
            config = SimConfig(**{"base_address": next(addresses), **defaults, **settings})
            return await stack.enter_async_context(SimFleet(config))

        yield start

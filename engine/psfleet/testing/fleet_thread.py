"""Run a SimFleet on its own event loop thread, for synchronous peers (pypsrp, pywinrm)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psfleet.simfleet.config import SimConfig
from psfleet.simfleet.fleet import SimFleet

_START_TIMEOUT_S = 120.0


class ThreadedFleet:
    """A started SimFleet whose loop runs in another thread; stats() is safe to call from here."""

    def __init__(self, fleet: SimFleet, loop: asyncio.AbstractEventLoop) -> None:
        self.fleet = fleet
        self._loop = loop

    @property
    def hosts(self) -> list[Any]:
        return self.fleet.hosts

    def stats(self, host: str | None = None) -> dict[str, Any]:
        return asyncio.run_coroutine_threadsafe(self._stats(host), self._loop).result(10)

    async def _stats(self, host: str | None) -> dict[str, Any]:
        return self.fleet.stats(host)


@contextmanager
def fleet_in_thread(config: SimConfig) -> Iterator[ThreadedFleet]:
    loop = asyncio.new_event_loop()
    fleet = SimFleet(config)
    stop = asyncio.Event()
    started = threading.Event()
    failure: list[BaseException] = []

    async def main() -> None:
        try:
            async with fleet:
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    if not started.wait(_START_TIMEOUT_S) or failure:
        raise RuntimeError("the simulated fleet did not start") from (
            failure[0] if failure else None
        )
    try:
        yield ThreadedFleet(fleet, loop)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()

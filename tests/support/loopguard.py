"""A test guard: fail when the event loop was blocked for `limit` seconds or more."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psfleet.loopwatch import LoopWatchdog, watch_loop

MAX_LOOP_STALL = 1.0  # seconds: a blocking network call costs seconds, our CPU steps far less


@asynccontextmanager
async def no_loop_stall(limit: float = MAX_LOOP_STALL) -> AsyncIterator[LoopWatchdog]:
    async with watch_loop() as watchdog:
        yield watchdog
    if watchdog.longest_stall >= limit:
        raise AssertionError(
            f"the event loop was blocked for {watchdog.longest_stall:.2f}s, in:\n"
            f"{watchdog.stalled_stack}"
        )

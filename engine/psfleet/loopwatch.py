"""How long the event loop went without running callbacks: a blocked loop, measured.

A call that waits on the network (a KDC, DNS) made on the event loop thread freezes
every host of a run. A watchdog thread pings the loop (`call_soon_threadsafe`) every
`interval` seconds and times the answer; the longest wait is the longest stall, and
the loop thread's stack is kept from the moment a stall passed `report_after`, so a
test or a benchmark can say both how long and where.

A garbage collection holds the GIL, so it stops the loop whichever thread runs it; one
run by the watchdog's own thread would delay the ping, not the answer, and go unseen.
The watchdog times every collection too (gc.callbacks): the longest stall is the longer
of the two.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class LoopWatchdog:
    """Measures the stalls of one event loop from a daemon thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        interval: float = 0.02,
        report_after: float = 0.25,
    ) -> None:
        self._loop = loop
        self._interval = interval
        self._report_after = report_after
        self._loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._answered = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="psfleet-loopwatch", daemon=True)
        self.longest_ping = 0.0  # the longest wait for the loop to answer
        self.longest_gc_pause = 0.0  # the longest garbage collection, in any thread
        self.stalled_stack: str | None = None  # where the loop was during the longest stall
        self._gc_started: float | None = None

    @property
    def longest_stall(self) -> float:
        return max(self.longest_ping, self.longest_gc_pause)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        return self.longest_stall

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.monotonic()
        elif self._gc_started is not None:
            self.longest_gc_pause = max(self.longest_gc_pause, time.monotonic() - self._gc_started)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._answered.clear()
            sent = time.monotonic()
            try:
                self._loop.call_soon_threadsafe(self._answered.set)
            except RuntimeError:  # the loop closed
                return
            stack = None
            while not self._answered.wait(self._interval):
                if self._stop.is_set() or self._loop.is_closed():
                    return  # the loop thread is stopping us (or gone): no stall to count
                if stack is None and time.monotonic() - sent > self._report_after:
                    stack = self._loop_stack()
            stall = time.monotonic() - sent
            if stall > self.longest_ping:
                self.longest_ping = stall
                if stack is not None:
                    self.stalled_stack = stack
            self._stop.wait(self._interval)

    def _loop_stack(self) -> str | None:
        frame = sys._current_frames().get(self._loop_thread)
        return "".join(traceback.format_stack(frame)) if frame is not None else None


@asynccontextmanager
async def watch_loop(interval: float = 0.02) -> AsyncIterator[LoopWatchdog]:
    """`async with watch_loop() as watchdog:` ... `watchdog.longest_stall` (seconds)."""
    watchdog = LoopWatchdog(asyncio.get_running_loop(), interval=interval)
    watchdog.start()
    try:
        yield watchdog
    finally:
        watchdog.stop()

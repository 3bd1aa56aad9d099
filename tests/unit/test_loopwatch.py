"""The loop watchdog: a blocked loop and a garbage collection in another thread both count."""

from __future__ import annotations

import asyncio
import gc
import threading
import time

from psfleet.loopwatch import LoopWatchdog


def test_a_blocking_call_on_the_loop_is_measured_with_where_it_blocked() -> None:
    async def block() -> LoopWatchdog:
        watchdog = LoopWatchdog(asyncio.get_running_loop(), interval=0.01, report_after=0.05)
        watchdog.start()
        await asyncio.sleep(0.03)
        time.sleep(0.3)  # noqa: ASYNC251 (the blocking call on the loop thread under test)
        await asyncio.sleep(0.03)
        watchdog.stop()
        return watchdog

    watchdog = asyncio.run(block())
    assert watchdog.longest_ping >= 0.25
    assert watchdog.stalled_stack is not None and "time.sleep(0.3)" in watchdog.stalled_stack


def test_a_collection_run_by_another_thread_counts_as_a_stall() -> None:
    # A heap of cycles makes one full collection take a while, in a thread of its own.
    heap = [[] for _ in range(300_000)]
    for item in heap:
        item.append(item)

    callbacks_before = len(gc.callbacks)

    async def collect_elsewhere() -> LoopWatchdog:
        watchdog = LoopWatchdog(asyncio.get_running_loop(), interval=0.01)
        watchdog.start()
        worker = threading.Thread(target=gc.collect)
        worker.start()
        await asyncio.to_thread(worker.join)
        watchdog.stop()
        return watchdog

    watchdog = asyncio.run(collect_elsewhere())
    assert watchdog.longest_gc_pause > 0.0
    assert watchdog.longest_stall >= watchdog.longest_gc_pause
    assert len(gc.callbacks) == callbacks_before  # stop() removed its callback
    del heap

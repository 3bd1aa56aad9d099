"""Ctrl-C for the commands that fan out: the first stops the work cleanly, the second leaves."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio

EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


async def watch_interrupts(
    stop: Callable[[], None], stopping: Callable[[], bool], what: str
) -> None:
    """First SIGINT/SIGTERM: say `what` happens now and call `stop()`; the second (when
    `stopping()` says the first was taken) exits at once, without waiting for cleanup."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stopping():
                sys.stderr.write("psfleet: interrupted twice, exiting now\n")
                os._exit(EXIT_INTERRUPTED)
            sys.stderr.write(f"psfleet: interrupting: {what}...\n")
            stop()


@asynccontextmanager
async def interruptible(what: str) -> AsyncIterator[anyio.CancelScope]:
    """A block that the first Ctrl-C cancels (then `scope.cancel_called`), saying `what`
    happens now; the second exits at once (`watch_interrupts`)."""
    work = anyio.CancelScope()
    async with anyio.create_task_group() as group:
        group.start_soon(watch_interrupts, work.cancel, lambda: work.cancel_called, what)
        with work:
            yield work
        group.cancel_scope.cancel()

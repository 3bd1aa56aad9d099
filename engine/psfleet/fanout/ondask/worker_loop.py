"""What a Dask worker process keeps between chunks: one event loop and its credential brokers.

A broker lives on one event loop (its locks, its KDC calls), and a ticket lives in a
broker: a loop per chunk would get a Kerberos ticket per chunk. So every chunk of this
worker process runs on one event loop of its own (a thread, never the worker's loop), and
takes its credentials from one broker per broker settings; the broker's gates are keyed by
credential, so each credential gets one AS exchange per worker process. The WorkerPlugin
closes the brokers (their MEMORY ccaches) and stops the loop when the worker ends.

One consequence, on purpose: a password the KDC rejected stays withheld on this worker
until it restarts (the lockout guard never tries it again from a long-lived worker).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from psfleet import eventloop
from psfleet.fanout.options import RunOptions
from psfleet.transport.credentials import CredentialBroker

T = TypeVar("T")
PLUGIN_NAME = "psfleet-worker-loop"
WORKER_TOPIC = "psfleet-worker"


class WorkerLoop:
    """The process's one event loop thread, started by the first chunk, and its brokers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None
        self._brokers: dict[tuple[int, float], CredentialBroker] = {}
        self._running: _RunningLoop | None = None

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run `func(*args)` on the process's loop; blocks the calling (task) thread."""
        return self._started().call(func, *args)

    def with_broker(self, options: RunOptions) -> RunOptions:
        """The options with this process's broker for their settings (on the loop only)."""
        auth, timeouts = options.client.auth, options.client.timeouts
        key = (auth.max_auth_failures, timeouts.connect)
        broker = self._brokers.get(key)
        if broker is None:
            broker = self._brokers[key] = CredentialBroker(
                max_auth_failures=auth.max_auth_failures, kdc_timeout=timeouts.connect
            )
        auth = dataclasses.replace(auth, broker=broker)
        return dataclasses.replace(options, client=dataclasses.replace(options.client, auth=auth))

    def brokers(self) -> int:
        return len(self._brokers)

    def close(self) -> LoopClosed | None:
        """Close the brokers and stop the loop: what became of its thread and loop (None: no loop).

        Judged before the last reference to the portal's context goes: dropping it would let
        the garbage collector stop the loop, and hide a close that did not happen.
        """
        with self._lock:
            if self._portal is None or self._stack is None or self._running is None:
                return None
            self._portal.call(self._close_brokers)
            self._stack.close()  # stops the loop and waits for its thread
            thread, loop = self._running.thread, self._running.loop
            closed = LoopClosed(thread.ident, not thread.is_alive(), loop.is_closed())
            self._portal = self._stack = self._running = None
            return closed

    async def _close_brokers(self) -> None:
        for broker in self._brokers.values():
            broker.close()
        self._brokers.clear()

    def _started(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                backend, options = eventloop.anyio_backend()
                self._stack = contextlib.ExitStack()
                self._portal = self._stack.enter_context(
                    start_blocking_portal(backend, options, name="psfleet-worker-loop")
                )
                self._running = self._portal.call(_running_loop)
            return self._portal


@dataclasses.dataclass(frozen=True, slots=True)
class _RunningLoop:
    thread: threading.Thread
    loop: asyncio.AbstractEventLoop


@dataclasses.dataclass(frozen=True, slots=True)
class LoopClosed:
    """The outcome of `WorkerLoop.close`: the loop's thread (by ident), whether it ended, and
    whether the event loop it ran is closed."""

    thread: int | None
    thread_ended: bool
    loop_closed: bool


async def _running_loop() -> _RunningLoop:
    """Called on the loop: the thread that runs it, and the loop itself."""
    return _RunningLoop(threading.current_thread(), asyncio.get_running_loop())


_process_loop = WorkerLoop()


def process_loop() -> WorkerLoop:
    return _process_loop


def close_with_the_worker() -> Any:
    """A distributed.WorkerPlugin (registered idempotently: once per cluster) whose teardown,
    when a worker ends, closes that worker process's loop and brokers, and says so in the
    worker's Dask event log (topic WORKER_TOPIC: `client.get_events`)."""
    from distributed import WorkerPlugin  # noqa: PLC0415 (the optional extra)

    class CloseWorkerLoop(WorkerPlugin):
        idempotent = True

        def teardown(self, worker: Any) -> None:
            closed = process_loop().close()
            if closed is not None:
                message = {"action": "loop-closed", "worker": worker.address}
                worker.log_event(WORKER_TOPIC, message | dataclasses.asdict(closed))

    return CloseWorkerLoop()

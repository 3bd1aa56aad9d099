"""Between the Dask client's thread and the merge: what has arrived and is not merged yet.

Memory stays bounded in two layers:
- Flow control (the first): a chunk's worker sends a batch only while it is fewer than
  WINDOW batches ahead of what the client has merged of that chunk (`Credit`, read from
  the scheduler's metadata, where the merge writes it every ACK_EVERY batches). Its hosts
  wait in `emit` meanwhile: a slow sink slows the cluster, it does not fill the client.
- The inbox (the backstop): at most `limit` whole batches wait for the merge. It is fed
  on the Dask client's own event-loop thread, which must never block (that thread also
  answers the merge's own calls to the scheduler: blocking it could deadlock the run). So
  a batch that finds the inbox full keeps its hosts' starts, retries and final statuses
  (a few small events per host, the same order of memory as the run's result) and drops
  its output records, counted and logged once: every host still gets its one status.

The Dask thread hands a message over by appending it to a deque, and wakes the merge's
loop only when the merge sleeps (asyncio's call_soon_threadsafe: anyio's portal would make
the Dask thread wait for the loop, and spawn a task per message). Batches are decoded on
the merge's loop, not on the Dask thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from typing import Any

from psfleet.events import Event, RecordEvent
from psfleet.fanout.ondask.wire import Batch, decode_batch
from psfleet.logs import get_logger

log = get_logger("psfleet.dask")

# Batches a chunk's worker may send ahead of what the client merged of that chunk.
WINDOW = 16
# The merge tells the workers how far it got every this many batches of a chunk.
ACK_EVERY = WINDOW // 2

Message = tuple[str, Any]  # ("batch", Batch) or ("done", (chunk id, Dask future))


class Inbox:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.dropped_records = 0
        self._whole = 0  # whole batches waiting: only these count against the limit
        self._lock = threading.Lock()  # the Dask thread puts, the merge's loop gets
        self._messages: collections.deque[Message] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._sleeping = False

    def put(self, kind: str, payload: Any) -> None:
        """From any thread (the Dask client's); never blocks, never waits for the merge."""
        with self._lock:
            if kind == "batch" and self._whole >= self.limit:
                kind, payload = "control", self._without_records(decode_batch(payload))
            elif kind == "batch":
                self._whole += 1
            self._messages.append((kind, payload))
            wake, self._sleeping = self._sleeping, False
        if wake and self._loop is not None:
            # RuntimeError: the run's loop has closed, a straggler of a finished run.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._wake.set)

    async def get(self) -> Message:
        """The next message, in the order put; a batch's events decoded."""
        self._loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._messages:
                    kind, payload = self._messages.popleft()
                    break
                self._wake.clear()
                self._sleeping = True
            await self._wake.wait()
        if kind == "batch":
            with self._lock:
                self._whole -= 1
            payload = decode_batch(payload)
        return kind, payload

    def _without_records(self, batch: Batch) -> Batch:
        kept: list[Event] = [e for e in batch.events if not isinstance(e, RecordEvent)]
        if not self.dropped_records:
            log.warning(
                "dask_output_dropped",
                reason="the sinks are slower than the cluster and the client's inbox is full",
                limit=self.limit,
            )
        self.dropped_records += len(batch.events) - len(kept)
        # The worker's log records are output too: dropped, and counted where they are replayed.
        dropped_logs = batch.dropped_logs + len(batch.logs)
        return Batch(batch.chunk_id, batch.seq, batch.worker, kept, [], dropped_logs)

    def waiting(self) -> int:
        """Whole batches waiting for the merge (at most `limit`)."""
        return self._whole


def inbox_limit(worker_threads: int) -> int:
    """Room for every running chunk's full window, so that flow control alone bounds it."""
    return max(worker_threads, 1) * WINDOW + WINDOW

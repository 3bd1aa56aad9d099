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
"""

from __future__ import annotations

import math
from typing import Any

import anyio

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
        self._send, self._receive = anyio.create_memory_object_stream[Message](math.inf)

    def put(self, kind: str, payload: Any) -> None:
        """On the merge's event loop (handed over through a portal), never blocks."""
        if kind != "batch":
            self._send.send_nowait((kind, payload))
            return
        batch = decode_batch(payload)
        if self._whole < self.limit:
            self._whole += 1
            self._send.send_nowait(("batch", batch))
            return
        kept: list[Event] = [e for e in batch.events if not isinstance(e, RecordEvent)]
        if not self.dropped_records:
            log.warning(
                "dask_output_dropped",
                reason="the sinks are slower than the cluster and the client's inbox is full",
                limit=self.limit,
            )
        self.dropped_records += len(batch.events) - len(kept)
        self._send.send_nowait(("control", Batch(batch.chunk_id, batch.seq, batch.worker, kept)))

    async def get(self) -> Message:
        kind, payload = await self._receive.receive()
        if kind == "batch":
            self._whole -= 1
        return kind, payload

    def waiting(self) -> int:
        """Whole batches waiting for the merge (at most `limit`)."""
        return self._whole


def inbox_limit(worker_threads: int) -> int:
    """Room for every running chunk's full window, so that flow control alone bounds it."""
    return max(worker_threads, 1) * WINDOW + WINDOW

"""Per-target queues of outgoing PSRP fragments, drained by Receive long polls.

psrpcore keeps one send buffer per runspace pool, mixing the pool's messages with
every pipeline's; a Receive asks for one target (the pool, or one CommandId), so
the buffer is drained into a queue per target as soon as anything is produced.
"""

from __future__ import annotations

import asyncio
import collections
import struct
import uuid
from collections.abc import Callable

_FRAGMENT_HEADER = 21


def split_fragments(payload: bytes) -> list[bytes]:
    """Cut a psrpcore payload into its fragments: Windows sends one per rsp:Stream."""
    fragments = []
    position = 0
    while position + _FRAGMENT_HEADER <= len(payload):
        (length,) = struct.unpack_from(">I", payload, position + 17)
        end = position + _FRAGMENT_HEADER + length
        fragments.append(payload[position:end])
        position = end
    return fragments


def pipeline_id_of(fragment: bytes) -> uuid.UUID | None:
    """The pipeline id inside the first fragment of a PSRP message (MS-PSRP 2.2.1)."""
    start = _FRAGMENT_HEADER + 24
    if len(fragment) < start + 16:
        return None
    pid = uuid.UUID(bytes_le=fragment[start : start + 16])
    return None if pid.int == 0 else pid


class Outbox:
    """Fragments waiting for the client, by target (None = the pool itself)."""

    def __init__(self) -> None:
        self._queues: dict[uuid.UUID | None, collections.deque[bytes]] = {}
        self._sizes: dict[uuid.UUID | None, int] = {}
        self._changed = asyncio.Event()

    def put(self, target: uuid.UUID | None, fragment: bytes) -> None:
        self._queues.setdefault(target, collections.deque()).append(fragment)
        self._sizes[target] = self._sizes.get(target, 0) + len(fragment)
        self.wake()

    def wake(self) -> None:
        self._changed.set()

    def pending(self, target: uuid.UUID | None) -> int:
        return self._sizes.get(target, 0)

    def take(self, target: uuid.UUID | None, budget: int) -> list[bytes]:
        """Up to `budget` bytes of fragments (at least one) for target."""
        queue = self._queues.get(target)
        taken: list[bytes] = []
        while queue and (not taken or budget >= len(queue[0])):
            fragment = queue.popleft()
            budget -= len(fragment)
            taken.append(fragment)
        if taken:
            self._sizes[target] -= sum(len(f) for f in taken)
            self.wake()
        return taken

    def discard(self, target: uuid.UUID | None) -> None:
        self._queues.pop(target, None)
        self._sizes.pop(target, None)
        self.wake()

    async def wait(self, ready: Callable[[], bool], limit_s: float) -> bool:
        """Wait until ready() holds, re-checking at every change; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        while not ready():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return ready()
        return True

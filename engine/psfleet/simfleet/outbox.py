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

from psrpcore.types import PSRPMessageType

_FRAGMENT_HEADER = 21
_START_FLAG = 0x1


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


def message_type_of(fragment: bytes) -> int | None:
    """The PSRP message type a fragment starts, or None for a continuation fragment."""
    if len(fragment) < _FRAGMENT_HEADER + 8 or not fragment[16] & _START_FLAG:
        return None
    return int.from_bytes(fragment[_FRAGMENT_HEADER + 4 : _FRAGMENT_HEADER + 8], "little")


# Windows answers a pool's capability exchange in one Receive and its Opened state in
# the next (the runspace opens after the exchange): every capture shows that round trip.
_ANSWERED_ALONE = frozenset({PSRPMessageType.RunspacePoolState.value})


def encoded_size(length: int) -> int:
    """Bytes of base64 text for `length` bytes of data."""
    return (length + 2) // 3 * 4


class Changes:
    """Wakes long polls when something they wait for may have changed."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def wake(self) -> None:
        self._changed.set()

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


class Outbox(Changes):
    """Fragments waiting for the client, by target (None = the pool itself)."""

    def __init__(self) -> None:
        super().__init__()
        # Each entry: (fragment, must start a new Receive response).
        self._queues: dict[uuid.UUID | None, collections.deque[tuple[bytes, bool]]] = {}
        self._sizes: dict[uuid.UUID | None, int] = {}

    def put(self, target: uuid.UUID | None, fragment: bytes) -> None:
        alone = message_type_of(fragment) in _ANSWERED_ALONE
        self._queues.setdefault(target, collections.deque()).append((fragment, alone))
        self._sizes[target] = self._sizes.get(target, 0) + len(fragment)

    def pending(self, target: uuid.UUID | None) -> int:
        return self._sizes.get(target, 0)

    def take(self, target: uuid.UUID | None, room: int, overhead: int) -> list[bytes]:
        """Fragments for target (at least one) that fit `room` bytes of a response, counting
        each as its base64 text plus `overhead` bytes of rsp:Stream element."""
        queue = self._queues.get(target)
        taken: list[bytes] = []
        while queue:
            fragment, alone = queue[0]
            cost = encoded_size(len(fragment)) + overhead
            if taken and (alone or cost > room):
                break
            queue.popleft()
            room -= cost
            taken.append(fragment)
        if taken:
            self._sizes[target] -= sum(len(f) for f in taken)
            self.wake()
        return taken

    def discard(self, target: uuid.UUID | None) -> None:
        self._queues.pop(target, None)
        self._sizes.pop(target, None)
        self.wake()

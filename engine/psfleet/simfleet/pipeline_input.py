"""Pipeline input that streams: a script's process block runs on each item as it arrives.

Windows starts a pipeline on CreatePipeline and feeds its process block as the client
Sends; simfleet does the same for a script with a process block (file transfer pushes
hundreds of megabytes that way), so that a host holds a few chunks, not the whole file.
A Send waits while the script is behind by more than `limit` bytes: the client slows
down to the script's pace instead of the simulator's memory growing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from psfleet.simfleet.minips import INPUT_PENDING

DEFAULT_LIMIT = 4 << 20


class StreamedInput:
    """An iterator for minips: the next item, INPUT_PENDING while none has come, then the end."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._items: deque[Any] = deque()
        self._queued = 0
        self._limit = limit
        self.ended = False
        self._closed = False
        self._changed = asyncio.Event()

    def __iter__(self) -> StreamedInput:
        return self

    def __next__(self) -> Any:
        if self._items:
            item = self._items.popleft()
            self._queued -= _size(item)
            self._wake()
            return item
        if self.ended:
            raise StopIteration
        return INPUT_PENDING

    def append(self, item: Any) -> None:
        if self._closed:
            return  # the script is over: nothing will read it
        self._items.append(item)
        self._queued += _size(item)
        self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def close(self) -> None:
        """The script ended (or was stopped): drop what it did not read, release the Sends."""
        self._closed = self.ended = True
        self._items.clear()
        self._queued = 0
        self._wake()

    async def arrived(self) -> None:
        """Until there is an item or the input ended."""
        while not self._items and not self.ended:
            await self._changed.wait()

    async def room(self) -> None:
        """Until the script has caught up to within `limit` bytes."""
        while self._queued > self._limit and not self.ended:
            await self._changed.wait()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def _size(item: Any) -> int:
    return len(item) if isinstance(item, str | bytes) else 64

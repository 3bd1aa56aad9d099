"""The chunks of a local file, read and encoded once per run and shared by every host.

A push sends each chunk as one pipeline input item: the base64 text of up to
`chunk_size` bytes, serialized as CLIXML (`<S>...</S>`), and that base64-encoded again
for the Send's stream (psrp.EncodedData: only the PSRP headers are each host's). Hosts
that push at the same time read the same `Window`: a bounded run of encoded chunks that
moves forward as the hosts do. A host that keeps the hosts ahead waiting (`lag_s` in
all, per window) is let go: it reads and encodes the file on its own from then on (one
host's slowness costs that host CPU, not the others time, and no one holds the file).
A host that starts once the window has moved on opens a new window for its wave.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread
import pybase64

from psfleet.session import psrp

# Room kept in a fragment for the PSRP message header (40 bytes), the fragment header
# (21 bytes), the CLIXML string tags (7 bytes) and a margin.
_FRAMING = 128
DEFAULT_WINDOW = 16
DEFAULT_LAG_S = 2.0
_HASH_BLOCK = 1 << 20


def chunk_size_for(send_envelope_size: int) -> int:
    """The most file bytes whose base64 text fits one Send's PSRP fragment, multiple of 3."""
    text = psrp.fragment_limit(send_envelope_size) - _FRAMING
    return text // 4 * 3


def serialized_chunk(data: bytes) -> bytes:
    """A chunk as the CLIXML of the string psfleet's push script reads: base64 needs no
    XML escaping, so this is exactly what psrpcore's serializer would write."""
    return b"<S>" + pybase64.b64encode(data) + b"</S>"


def chunk_count(length: int, chunk_size: int) -> int:
    return math.ceil(length / chunk_size)


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file to push: its path, size and SHA-256, measured once before any host starts."""

    path: Path
    length: int
    sha256: str  # upper-case hex, as Get-FileHash writes it

    @classmethod
    async def measure(cls, path: Path) -> LocalFile:
        return await anyio.to_thread.run_sync(cls._measure, path)

    @classmethod
    def _measure(cls, path: Path) -> LocalFile:
        hasher = hashlib.sha256()
        length = 0
        with path.open("rb") as stream:
            while block := stream.read(_HASH_BLOCK):
                hasher.update(block)
                length += len(block)
        return cls(path, length, hasher.hexdigest().upper())


def _read_chunk(stream: BinaryIO, index: int, chunk_size: int) -> psrp.EncodedData:
    stream.seek(index * chunk_size)
    return psrp.EncodedData.of(serialized_chunk(stream.read(chunk_size)))


@dataclass(eq=False)
class Window:
    """Encoded chunks [low, low + len(chunks)) shared by the readers that joined it."""

    file: LocalFile
    chunk_size: int
    size: int
    lag_s: float
    count_encoded: Callable[[int], None]
    low: int = 0
    waited_s: float = 0.0  # how long readers ahead have waited for slower ones, in all
    chunks: list[psrp.EncodedData] = field(default_factory=list)
    positions: dict[int, int] = field(default_factory=dict)  # reader -> next chunk index
    changed: anyio.Event = field(default_factory=anyio.Event)
    loading: anyio.Lock = field(default_factory=anyio.Lock)
    stream: BinaryIO | None = None

    @property
    def high(self) -> int:
        return self.low + len(self.chunks)

    def _wake(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    async def get(self, reader: int, index: int) -> psrp.EncodedData | None:
        """Chunk `index` for an attached reader; None when the reader was let go."""
        while True:
            if reader not in self.positions:
                return None
            if self.low <= index < self.high:
                chunk = self.chunks[index - self.low]
                self.positions[reader] = index + 1
                self._evict()
                return chunk
            if index < self.low:
                self.positions.pop(reader, None)
                return None
            if len(self.chunks) < self.size or self._evict():
                await self._load_next(index)
                continue
            await self._wait_for_laggards()

    def _evict(self) -> bool:
        """Drop the chunks every attached reader is past; True if room was made."""
        slowest = min(self.positions.values(), default=self.high)
        dropped = max(0, min(slowest, self.high) - self.low)
        if dropped:
            del self.chunks[:dropped]
            self.low += dropped
            self._wake()
        return dropped > 0

    async def _load_next(self, wanted: int) -> None:
        """Read and encode chunk `high`, unless another reader got `wanted` loaded meanwhile."""
        async with self.loading:
            index = self.high
            if index > wanted or len(self.chunks) >= self.size:
                return
            stream = self.stream
            if stream is None:
                stream = self.stream = await anyio.to_thread.run_sync(self.file.path.open, "rb")
            chunk = await anyio.to_thread.run_sync(_read_chunk, stream, index, self.chunk_size)
            self.count_encoded(min(self.chunk_size, self.file.length - index * self.chunk_size))
            self.chunks.append(chunk)
            self._wake()

    async def _wait_for_laggards(self) -> None:
        """The window is full of chunks a slower reader still needs: wait for it to move.

        The waits add up per window: once the readers ahead have waited `lag_s` in all,
        the ones holding the window's first chunk are let go (a host a little slower than
        the rest would otherwise set everyone's pace).
        """
        started = anyio.current_time()
        with anyio.move_on_after(max(0.0, self.lag_s - self.waited_s)):
            await self.changed.wait()
        self.waited_s += anyio.current_time() - started
        if self.waited_s < self.lag_s:
            return
        self.waited_s = 0.0
        for reader, position in list(self.positions.items()):
            if position <= self.low:
                del self.positions[reader]
        self._evict()

    def leave(self, reader: int) -> None:
        self.positions.pop(reader, None)
        self._evict()
        if not self.positions and self.stream is not None and not self.loading.locked():
            self.stream.close()
            self.stream = None


class SharedChunks:
    """Every host's source of chunks for one file and chunk size."""

    def __init__(
        self,
        file: LocalFile,
        chunk_size: int,
        *,
        window: int = DEFAULT_WINDOW,
        lag_s: float = DEFAULT_LAG_S,
    ) -> None:
        self.file = file
        self.chunk_size = chunk_size
        self.count = max(1, chunk_count(file.length, chunk_size))
        self._window_size = window
        self._lag_s = lag_s
        self._current: Window | None = None
        self._readers = 0
        self.encoded_bytes = 0  # file bytes read and encoded, shared or not (a benchmark reads it)

    def _count(self, size: int) -> None:
        self.encoded_bytes += size

    def reader(self) -> ChunkReader:
        self._readers += 1
        window = self._current
        if window is None or window.low > 0 or not window.positions:
            window = self._current = Window(
                self.file, self.chunk_size, self._window_size, self._lag_s, self._count
            )
        window.positions[self._readers] = 0
        return ChunkReader(self, window, self._readers)


class ChunkReader:
    """One host's way through the chunks, in order: `async for chunk in reader.chunks()`."""

    def __init__(self, source: SharedChunks, window: Window, reader: int) -> None:
        self._source = source
        self._window: Window | None = window
        self._id = reader
        self._own: BinaryIO | None = None

    def chunks(self) -> _ChunkIterator:
        return _ChunkIterator(self)

    async def get(self, index: int) -> psrp.EncodedData:
        if self._window is not None:
            chunk = await self._window.get(self._id, index)
            if chunk is not None:
                return chunk
            self._window.leave(self._id)
            self._window = None  # let go: from here on this host reads on its own
        own = self._own
        if own is None:
            own = self._own = await anyio.to_thread.run_sync(self._source.file.path.open, "rb")
        size = self._source.chunk_size
        self._source._count(min(size, self._source.file.length - index * size))
        return await anyio.to_thread.run_sync(_read_chunk, own, index, size)

    def close(self) -> None:
        if self._window is not None:
            self._window.leave(self._id)
            self._window = None
        if self._own is not None:
            self._own.close()
            self._own = None

    def indexes(self) -> Iterator[int]:
        return iter(range(self._source.count))


class _ChunkIterator:
    def __init__(self, reader: ChunkReader) -> None:
        self._reader = reader
        self._indexes = reader.indexes()

    def __aiter__(self) -> _ChunkIterator:
        return self

    async def __anext__(self) -> psrp.EncodedData:
        index = next(self._indexes, None)
        if index is None:
            raise StopAsyncIteration
        return await self._reader.get(index)

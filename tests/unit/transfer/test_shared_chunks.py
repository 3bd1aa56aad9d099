"""A file's chunks are read and encoded once for every host pushing it at the same time,
within a bounded window; a host that falls behind is let go to read on its own."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import anyio
import pytest

from psfleet.session.psrp import EncodedData
from psfleet.transfer.chunks import LocalFile, SharedChunks, chunk_size_for
from psfleet.transfer.push import ChunkSources

pytestmark = pytest.mark.anyio
CHUNK = 3000


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _file(tmp_path: Path, size: int) -> tuple[LocalFile, bytes]:
    data = os.urandom(size)
    path = tmp_path / "src.bin"
    path.write_bytes(data)
    return await LocalFile.measure(path), data


def _decode(chunks: list[EncodedData]) -> bytes:
    return b"".join(
        base64.b64decode(c.data.removeprefix(b"<S>").removesuffix(b"</S>")) for c in chunks
    )


async def _read_all(source: SharedChunks, pause_s: float = 0.0) -> bytes:
    reader = source.reader()
    got = []
    try:
        async for chunk in reader.chunks():
            got.append(chunk)
            await anyio.sleep(pause_s)
    finally:
        reader.close()
    return _decode(got)


async def test_hosts_in_step_share_one_read_and_encoding(tmp_path: Path) -> None:
    file, data = await _file(tmp_path, 100 * CHUNK + 17)
    source = SharedChunks(file, CHUNK, window=8)
    results: list[bytes] = []

    async def host() -> None:
        results.append(await _read_all(source))

    async with anyio.create_task_group() as group:
        for _ in range(20):
            group.start_soon(host)
    assert results == [data] * 20
    assert source.encoded_bytes == len(data)


async def test_a_slow_host_is_let_go_and_still_gets_the_whole_file(tmp_path: Path) -> None:
    file, data = await _file(tmp_path, 40 * CHUNK)
    source = SharedChunks(file, CHUNK, window=4, lag_s=0.05)
    results: dict[str, bytes] = {}

    async def host(name: str, pause_s: float) -> None:
        results[name] = await _read_all(source, pause_s)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(host, "fast", 0.0)
            group.start_soon(host, "slow", 0.02)
    assert results == {"fast": data, "slow": data}
    # The slow host re-read part of the file on its own; the fast one never waited for it.
    assert len(data) < source.encoded_bytes <= 2 * len(data)


async def test_an_empty_file_is_one_empty_chunk(tmp_path: Path) -> None:
    file, _ = await _file(tmp_path, 0)
    assert await _read_all(SharedChunks(file, CHUNK)) == b""


def test_a_chunk_fills_a_send_of_the_envelope_size() -> None:
    size = chunk_size_for(153600)
    encoded = len(base64.b64encode(b"\0" * size)) + len(b"<S></S>")
    assert size % 3 == 0
    assert 100_000 < encoded + 21 + 40 <= (153600 - 4096) // 4 * 3


async def test_every_host_first_writes_the_same_temporary_name_and_a_retry_another(
    tmp_path: Path,
) -> None:
    # One name for the fleet keeps push.ps1's CreatePipeline one serialization per run.
    file, _ = await _file(tmp_path, 10)
    sources = ChunkSources(file)
    first = sources.temp_path("C:\\a.bin", "node01")
    assert first.startswith("C:\\a.bin.") and first.endswith(".psfleet-tmp")
    assert sources.temp_path("C:\\a.bin", "node02") == first
    retry = sources.temp_path("C:\\a.bin", "node01")
    assert retry not in (first, sources.temp_path("C:\\a.bin", "node01"))
    assert ChunkSources(file).temp_path("C:\\a.bin", "node01") != first  # another run

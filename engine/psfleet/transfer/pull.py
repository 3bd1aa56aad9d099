"""Fetch one remote file from one host into a local folder.

pull.ps1 streams the file back as base64 chunks between its length and its SHA-256.
Each chunk is decoded and written to a temporary file beside the local destination in
a worker thread (disk I/O stays off the event loop), hashed as it goes; the file takes
its name only when length and hash match what the host sent.
"""

from __future__ import annotations

import binascii
import hashlib
import os
import uuid
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread
import pybase64

from psfleet.events import Stream
from psfleet.session.pool import RunspacePool
from psfleet.session.records import PipelineState
from psfleet.transfer import errors
from psfleet.transfer.chunks import chunk_size_for
from psfleet.transfer.push import Progress, Transferred
from psfleet.transfer.scripts import script


def remote_name(path: str) -> str:
    return path.replace("/", "\\").rstrip("\\").rpartition("\\")[2]


async def list_files(pool: RunspacePool, path: str) -> list[str]:
    """Every file under a remote folder (fetch --recurse)."""
    result = await pool.invoke(script("list"), parameters={"Path": path})
    if result.state is PipelineState.FAILED:
        raise errors.from_record(result.reason, pool.host, path)
    return [str(item) for item in result.output]


class _LocalCopy:
    """The temporary file a fetch writes, hashed as it grows."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.psfleet-tmp")
        self.hasher = hashlib.sha256()
        self.length = 0
        self._stream: BinaryIO | None = None

    def open(self) -> None:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self._stream = self.temp.open("xb")

    def write(self, data: bytes) -> None:
        assert self._stream is not None
        self._stream.write(data)
        self.hasher.update(data)
        self.length += len(data)

    def finish(self) -> None:
        assert self._stream is not None
        self._stream.close()
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        if self._stream is not None:
            self._stream.close()
        self.temp.unlink(missing_ok=True)


async def pull_file(pool: RunspacePool, path: str, local: Path, progress: Progress) -> Transferred:
    local_copy = _LocalCopy(local)
    try:
        await anyio.to_thread.run_sync(local_copy.open)
    except OSError as exc:
        raise errors.LocalWriteError(
            f"cannot write {local}: {exc.strerror}", host=pool.host, path=str(local)
        ) from exc
    placed = False
    try:
        length, sha256 = await _receive(pool, path, local_copy, progress)
        if local_copy.length != length or local_copy.hasher.hexdigest().upper() != sha256:
            raise errors.HashMismatch(
                f"received {local_copy.length} bytes hashing "
                f"{local_copy.hasher.hexdigest().upper()}, the host sent {length} hashing {sha256}",
                host=pool.host,
                path=path,
            )
        await anyio.to_thread.run_sync(local_copy.finish)
        placed = True
    finally:
        if not placed:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(local_copy.discard)
    return Transferred(str(local), length, sha256, changed=True)


async def _receive(
    pool: RunspacePool, path: str, local_copy: _LocalCopy, progress: Progress
) -> tuple[int, str]:
    chunk_size = chunk_size_for(pool.shell.max_envelope_size)
    pipeline = pool.pipeline(script("pull"), parameters={"Path": path, "ChunkSize": chunk_size})
    length = -1
    sha256 = ""
    async with pipeline:
        async for record in pipeline:
            if record.stream is not Stream.OUTPUT:
                continue
            value = record.data
            if isinstance(value, str):
                try:
                    data = pybase64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise errors.HashMismatch(
                        "the host sent a chunk that is not base64", host=pool.host, path=path
                    ) from None
                try:
                    await anyio.to_thread.run_sync(local_copy.write, data)
                except OSError as exc:
                    raise errors.LocalWriteError(
                        f"cannot write {local_copy.temp}: {exc.strerror}",
                        host=pool.host,
                        path=str(local_copy.final),
                    ) from exc
                await progress(local_copy.length)
            elif "Length" in value:
                length = int(value["Length"])
            elif "Sha256" in value:
                sha256 = str(value["Sha256"])
    if pipeline.state is not PipelineState.COMPLETED or length < 0 or not sha256:
        raise errors.from_record(pipeline.reason, pool.host, path)
    return length, sha256

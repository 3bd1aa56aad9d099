"""Push one local file to one host over its runspace pool.

probe.ps1 says where the file goes and the SHA-256 of what is there; an equal hash
ends the host's work (`changed: False`, nothing sent) unless forced. push.ps1 then
receives the chunks as streamed pipeline input, one Send each, while a second task
reads the pipeline's answer: a script that fails early (access denied, full disk)
stops the sending at once. A push that does not end in place runs cleanup.ps1 (the
temporary file of a stopped pipeline outlives it on Windows).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from psfleet.errors import PsfleetError
from psfleet.events import Stream
from psfleet.session.pool import RunspacePool
from psfleet.session.records import PipelineState
from psfleet.transfer import errors
from psfleet.transfer.chunks import LocalFile, SharedChunks, chunk_size_for
from psfleet.transfer.scripts import script

Progress = Callable[[int], Awaitable[None]]  # bytes done so far
_ANSWER_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class Transferred:
    """One file on one host: where it is, its size and SHA-256, and whether it changed."""

    path: str
    bytes: int  # payload bytes sent or received (0 when unchanged)
    sha256: str
    changed: bool


class ChunkSources:
    """One SharedChunks per chunk size: hosts with the same envelope size share encodings;
    and the temporary file name, the same on every host (see temp_path)."""

    def __init__(self, file: LocalFile) -> None:
        self.file = file
        self._by_size: dict[int, SharedChunks] = {}
        self._token = uuid.uuid4().hex[:12]
        self._tries: dict[str, int] = {}

    def temp_path(self, path: str, host: str) -> str:
        """The temporary file beside `path`: one name per run on every host's first try, so
        that push.ps1's CreatePipeline is serialized once for the fleet, not per host (7 ms
        of client CPU a host: psfleet.session.psrp caches it by its parameters). A retry on
        the same host takes a new name: the last try's file may not have been removed."""
        tries = self._tries[host] = self._tries.get(host, 0) + 1
        suffix = self._token if tries == 1 else f"{self._token}-{tries}"
        return f"{path}.{suffix}.psfleet-tmp"

    def for_pool(self, pool: RunspacePool) -> SharedChunks:
        size = chunk_size_for(pool.shell.send_envelope_size)
        source = self._by_size.get(size)
        if source is None:
            source = self._by_size[size] = SharedChunks(self.file, size)
        return source

    @property
    def encoded_bytes(self) -> int:
        return sum(s.encoded_bytes for s in self._by_size.values())


async def probe(pool: RunspacePool, dest: str, name: str, *, make_parents: bool) -> tuple[str, str]:
    """(the remote path the file goes to, the SHA-256 of the file there or '')."""
    result = await pool.invoke(
        script("probe"),
        parameters={"Path": dest, "Name": name, "MakeParents": make_parents},
    )
    if result.state is PipelineState.FAILED or not result.output:
        raise errors.from_record(result.reason, pool.host, dest)
    found = result.output[-1]
    return str(found["Path"]), str(found["Sha256"] or "")


async def push_file(
    pool: RunspacePool,
    sources: ChunkSources,
    dest: str,
    *,
    force: bool,
    make_parents: bool,
    progress: Progress,
) -> Transferred:
    file = sources.file
    path, existing = await probe(pool, dest, file.path.name, make_parents=make_parents)
    if existing.upper() == file.sha256 and not force:
        return Transferred(path, 0, file.sha256, changed=False)
    temp = sources.temp_path(path, pool.host)
    placed = False
    try:
        written = await _push(pool, sources.for_pool(pool), path, temp, progress)
        placed = True
    finally:
        if not placed:
            await _clean_up(pool, temp)
    if written["Sha256"] != file.sha256:  # the script compares; this guards the script
        raise errors.HashMismatch(f"the host wrote {written['Sha256']}", host=pool.host)
    return Transferred(path, file.length, file.sha256, changed=True)


async def _push(
    pool: RunspacePool, source: SharedChunks, path: str, temp: str, progress: Progress
) -> dict[str, object]:
    pipeline = pool.pipeline(
        script("push"),
        parameters={"Path": path, "TempPath": temp, "Sha256": source.file.sha256},
        streamed_input=True,
    )
    reader = source.reader()
    output: list[object] = []
    send_failed: list[PsfleetError] = []

    async def send(receiving: anyio.CancelScope) -> None:
        sent = 0
        try:
            async for chunk in reader.chunks():
                await pipeline.send_encoded_input(chunk)
                sent = min(sent + source.chunk_size, source.file.length)
                await progress(sent)
            await pipeline.send_input([], end=True)
        except PsfleetError as exc:
            # A script that failed early refuses more input, and its own error says why:
            # the answer has a little while to come before the pipeline is stopped.
            send_failed.append(exc)
            await anyio.sleep(_ANSWER_GRACE_S)
            receiving.cancel()

    async with pipeline:
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(send, group.cancel_scope)
                async for record in pipeline:
                    if record.stream is Stream.OUTPUT:
                        output.append(record.data)
                # The pipeline ended: whatever is left to send has no reader.
                group.cancel_scope.cancel()
        except* PsfleetError as failed:
            # The answers broke off (a cut connection): that error, not the task group's.
            raise _first(failed) from None
        finally:
            reader.close()
    if pipeline.state is PipelineState.COMPLETED and output:
        last = output[-1]
        return {"Sha256": last["Sha256"], "Bytes": last["Bytes"]}  # type: ignore[index]
    if pipeline.state is PipelineState.FAILED:
        raise errors.from_record(pipeline.reason, pool.host, path)
    if send_failed:
        raise send_failed[0]
    raise errors.from_record(pipeline.reason, pool.host, path)


def _first(group: BaseExceptionGroup[PsfleetError]) -> PsfleetError:
    leaf = group.exceptions[0]
    return leaf if isinstance(leaf, PsfleetError) else _first(leaf)


async def _clean_up(pool: RunspacePool, temp: str) -> None:
    """Remove the temporary file of a push that did not end in place; best effort, bounded."""
    # When the host is gone its temporary file stays until someone removes it.
    with (
        anyio.CancelScope(shield=True),
        anyio.move_on_after(pool.transport.timeouts.close),
        contextlib.suppress(PsfleetError),
    ):
        await pool.invoke(script("cleanup"), parameters={"TempPath": temp})

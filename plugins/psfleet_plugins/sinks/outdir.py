"""Per-host result files: DIR/<host>/{output,errors,streams,result}.json and DIR/summary.json.

A host's records are buffered until its HostDone (spilling to a temp file when large) and
its files are then written atomically, result.json last: its presence means the host's
directory is complete. A write failure is reported in `failures` and the log, never
raised, and never stops other hosts' files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
import structlog

from psfleet.events import Event, HostDone, RecordEvent, RunSummary, Stream
from psfleet.serialize import JsonValue, event_to_json, host_result, to_jsonable
from psfleet_plugins.sinks.files import JsonArrayBuffer, atomic_write, safe_name

log = structlog.get_logger("psfleet.sinks.outdir")

DEFAULT_DIRECTORY = Path("psfleet-output")
SPILL_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class WriteFailure:
    host: str | None  # None: the run's summary.json
    path: str
    error: str

    def __str__(self) -> str:
        return f"{self.host or 'summary'}: could not write {self.path}: {self.error}"


@dataclass(slots=True)
class _HostBuffer:
    output: JsonArrayBuffer
    errors: JsonArrayBuffer
    streams: JsonArrayBuffer
    error: str | None = None  # set when spilling failed: the host's files are lost
    files: dict[str, JsonArrayBuffer] = field(init=False)

    def __post_init__(self) -> None:
        self.files = {
            "output.json": self.output,
            "errors.json": self.errors,
            "streams.json": self.streams,
        }

    def add(self, record: RecordEvent) -> None:
        data = to_jsonable(record.data)
        if record.stream is Stream.OUTPUT:
            self.output.append(data)
        elif record.stream is Stream.ERROR:
            self.errors.append(data)
        else:
            self.streams.append(
                {"stream": str(record.stream), "command": record.command_index, "data": data}
            )

    def close(self) -> None:
        for buffer in self.files.values():
            buffer.close()


class OutputDirSink:
    """Writes each host's results under `directory` (created when the first host finishes)."""

    def __init__(
        self, directory: Path | str = DEFAULT_DIRECTORY, *, spill_bytes: int = SPILL_BYTES
    ) -> None:
        self.directory = Path(directory)
        self.spill_bytes = spill_bytes
        self.failures: list[WriteFailure] = []
        self.host_dirs: dict[str, str] = {}
        self._buffers: dict[str, _HostBuffer] = {}
        self._taken: set[str] = set()

    async def handle(self, event: Event) -> None:
        try:
            if isinstance(event, RecordEvent):
                self._add(event)
            elif isinstance(event, HostDone):
                buffer = self._buffers.pop(event.host, None)
                try:
                    await anyio.to_thread.run_sync(self._write_host, event, buffer)
                finally:
                    if buffer is not None:
                        buffer.close()
            elif isinstance(event, RunSummary):
                await anyio.to_thread.run_sync(self._write_summary, event)
        except Exception as exc:  # a bug here must cost this host's files, not the run
            self._fail(getattr(event, "host", None), self.directory, exc)

    def close(self) -> None:
        """Drop the buffers of hosts that never finished (their spill files go with them)."""
        for buffer in self._buffers.values():
            buffer.close()
        self._buffers.clear()

    def _add(self, record: RecordEvent) -> None:
        buffer = self._buffers.get(record.host)
        if buffer is None:
            buffer = self._buffers[record.host] = self._new_buffer()
        if buffer.error is not None:
            return
        try:
            buffer.add(record)
        except OSError as exc:  # the spill file could not be written (disk full)
            buffer.error = f"{type(exc).__name__}: {exc}"
            buffer.close()

    def _new_buffer(self) -> _HostBuffer:
        spill_dir = self.directory if self.directory.is_dir() else None

        def array() -> JsonArrayBuffer:
            return JsonArrayBuffer(self.spill_bytes, spill_dir)

        return _HostBuffer(array(), array(), array())

    def _write_host(self, done: HostDone, buffer: _HostBuffer | None) -> None:
        name = self._dir_name(done.host)
        host_dir = self.directory / name
        try:
            host_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._fail(done.host, host_dir, exc)
            return
        result: dict[str, JsonValue] = {**host_result(done), "output_lost": None}
        if buffer is not None and buffer.error is not None:
            result["output_lost"] = buffer.error
            self.failures.append(WriteFailure(done.host, str(host_dir), buffer.error))
        elif buffer is not None:
            for file_name, content in buffer.files.items():
                if not self._write(done.host, host_dir / file_name, content):
                    result["output_lost"] = f"{file_name} could not be written"
        else:
            for file_name in ("output.json", "errors.json", "streams.json"):
                self._write(done.host, host_dir / file_name, [])
        self._write(done.host, host_dir / "result.json", result)

    def _write_summary(self, event: RunSummary) -> None:
        summary: dict[str, JsonValue] = {
            **event_to_json(event),
            "hosts": dict(self.host_dirs),  # host name -> its directory name
            "write_failures": [str(failure) for failure in self.failures],
        }
        del summary["event"]
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self._fail(None, self.directory, exc)
            return
        self._write(None, self.directory / "summary.json", summary)

    def _write(self, host: str | None, path: Path, content: JsonArrayBuffer | JsonValue) -> bool:
        try:
            atomic_write(path, content)
        except (OSError, ValueError) as exc:  # ValueError: a value JSON cannot hold
            self._fail(host, path, exc)
            return False
        return True

    def _fail(self, host: str | None, path: Path, exc: Exception) -> None:
        failure = WriteFailure(host, str(path), f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        log.warning("output write failed", host=host, path=str(path), error=failure.error)

    def _dir_name(self, host: str) -> str:
        name = self.host_dirs.get(host)
        if name is None:
            name = safe_name(host)
            if name.lower() in self._taken:  # NODE01 and node01 on a case-insensitive disk
                name = f"{name}-{len(self._taken)}"
            self._taken.add(name.lower())
            self.host_dirs[host] = name
        return name

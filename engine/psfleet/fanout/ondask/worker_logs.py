"""A chunk's psfleet log events travel back to the client with its event batches.

On the worker, a handler on the `psfleet` logger hands each record logged inside a chunk's
fan-out (a context variable says which chunk) to that chunk's `ChunkLogs`: a buffer of at
most MAX_RECORDS records, emptied into every batch the chunk publishes, so a flood of log
lines costs bounded memory and only a count of what was dropped. A record travels as plain
data (msgpack: strings, numbers): anything else is its repr, which hides credentials
(Credential and Secret do), and the worker's own password is cut out of every string as a
last guard. On the client, `replay` hands each record to the `psfleet` logger it came from,
with a `worker` field, so the client's handlers (--log-json) write it as their own.

While chunks capture, the worker's `psfleet` logger is lowered to the lowest level a running
chunk asked for (the client's own level), and restored when the last one ends.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Iterable, Iterator, MutableMapping
from typing import Any

import structlog

from psfleet.logs import get_logger

# Records a chunk keeps between two batches; past it, records are only counted.
MAX_RECORDS = 512
ROOT = "psfleet"
REDACTED = "<hidden>"

log = get_logger("psfleet.dask")

_current: contextvars.ContextVar[ChunkLogs | None] = contextvars.ContextVar(
    "psfleet_chunk_logs", default=None
)
_format_exc_info = structlog.processors.ExceptionRenderer()


class ChunkLogs:
    """One chunk's records at or above `level`, at most `limit` between two `take`s."""

    def __init__(self, level: int, secrets: Iterable[str] = (), limit: int = MAX_RECORDS) -> None:
        self.level = level
        self._secrets = tuple(s for s in secrets if s)
        self._limit = limit
        self._records: list[dict[str, Any]] = []
        self._dropped = 0
        self._lock = threading.Lock()  # records come from the loop and from its threads

    def add(self, record: logging.LogRecord) -> None:
        if record.levelno < self.level:
            return
        if self._keep(None):  # full already: count it without converting it
            return
        self._keep(to_wire(record, self._secrets))  # converted outside the lock

    def _keep(self, wire: dict[str, Any] | None) -> bool:
        """Under the lock: a full buffer counts the record as dropped (True); else `wire`,
        if given, is kept. So records converted at once never take it past the limit."""
        with self._lock:
            if len(self._records) >= self._limit:
                self._dropped += 1
                return True
            if wire is not None:
                self._records.append(wire)
            return False

    def waiting(self) -> bool:
        return bool(self._records or self._dropped)

    def take(self) -> tuple[list[dict[str, Any]], int]:
        """The records kept since the last take, and how many were dropped meanwhile."""
        with self._lock:
            records, dropped = self._records, self._dropped
            self._records, self._dropped = [], 0
        return records, dropped


def to_wire(record: logging.LogRecord, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    """The record as plain data: its event dict (structlog's) or message, and its logger."""
    fields: MutableMapping[str, Any]
    if isinstance(record.msg, dict):  # a structlog event, already through psfleet's processors
        fields = dict(record.msg)
        if fields.get("exc_info"):
            fields = _format_exc_info(None, record.levelname.lower(), fields)
    else:  # a plugin's plain stdlib record
        fields = {"event": record.getMessage(), "level": record.levelname.lower()}
        if record.exc_info:
            fields["exc_info"] = record.exc_info
            fields = _format_exc_info(None, record.levelname.lower(), fields)
    fields.setdefault("level", record.levelname.lower())
    return {
        "logger": record.name,
        "levelno": record.levelno,
        "fields": {str(k): _plain(v, secrets) for k, v in fields.items()},
    }


def _plain(value: Any, secrets: tuple[str, ...]) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class _Forward(logging.Handler):
    """Installed on the worker's `psfleet` logger: a record goes to the chunk it belongs to."""

    def emit(self, record: logging.LogRecord) -> None:
        chunk = _current.get()
        if chunk is not None:
            chunk.add(record)


class _Capture:
    """The worker process's one forwarding handler, installed while any chunk captures."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._levels: list[int] = []
        self._handler = _Forward()
        self._saved_level = logging.NOTSET

    @contextlib.contextmanager
    def capturing(self, logs: ChunkLogs) -> Iterator[None]:
        """Records logged in this context (and the tasks and threads it starts) go to `logs`."""
        token = _current.set(logs)
        self._enter(logs.level)
        try:
            yield
        finally:
            self._leave(logs.level)
            _current.reset(token)

    def _enter(self, level: int) -> None:
        logger = logging.getLogger(ROOT)
        with self._lock:
            if not self._levels:
                self._saved_level = logger.level
                logger.addHandler(self._handler)
            self._levels.append(level)
            logger.setLevel(min(*self._levels, _effective(self._saved_level)))

    def _leave(self, level: int) -> None:
        logger = logging.getLogger(ROOT)
        with self._lock:
            self._levels.remove(level)
            if self._levels:
                logger.setLevel(min(*self._levels, _effective(self._saved_level)))
                return
            logger.removeHandler(self._handler)
            logger.setLevel(self._saved_level)


def _effective(saved: int) -> int:
    """The level the logger had before any chunk lowered it (NOTSET: its parents')."""
    if saved != logging.NOTSET:
        return saved
    parent = logging.getLogger(ROOT).parent
    return parent.getEffectiveLevel() if parent is not None else logging.WARNING


_capture = _Capture()


def capturing(logs: ChunkLogs) -> contextlib.AbstractContextManager[None]:
    return _capture.capturing(logs)


def replay(worker: str, records: list[dict[str, Any]], dropped: int) -> None:
    """On the client: each record to its own psfleet logger, as if logged here, with `worker`."""
    for wire in records:
        name = str(wire.get("logger", ROOT))
        if name != ROOT and not name.startswith(ROOT + "."):
            continue  # only psfleet's loggers: a worker does not write into others
        logger = logging.getLogger(name)
        level = int(wire.get("levelno", logging.INFO))
        if not logger.isEnabledFor(level):
            continue
        fields = {**wire.get("fields", {}), "worker": worker}
        method = str(fields.get("level", "info"))
        args, kwargs = structlog.stdlib.ProcessorFormatter.wrap_for_formatter(
            logger, method, fields
        )
        logger.log(level, *args, extra=kwargs["extra"])
    if dropped:
        log.warning(
            "worker log records dropped",
            worker=worker,
            dropped=dropped,
            limit=MAX_RECORDS,
            reason="a chunk logged more records between two batches than a batch carries",
        )

"""JSON Lines: one object per event, flushed per line so consumers can tail it."""

from __future__ import annotations

import sys
from typing import TextIO

import structlog

from psfleet.events import Event
from psfleet.serialize import dumps, event_to_json

log = structlog.get_logger("psfleet.sinks.jsonl")


class JsonlSink:
    """Writes every event to `stream` (stdout by default) as one JSON object per line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        # Resolved at construction, not import: tests and the CLI may swap sys.stdout.
        self._stream = stream if stream is not None else sys.stdout
        self.failures: list[str] = []

    async def handle(self, event: Event) -> None:
        if self.failures:
            return  # the reader is gone (`| head`): stop writing, let the run finish
        try:
            self._stream.write(dumps(event_to_json(event)) + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            self.failures.append(f"JSON Lines output stopped: {type(exc).__name__}: {exc}")
            log.warning("jsonl output failed", error=repr(exc))

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""

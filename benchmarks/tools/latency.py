"""Event latency: a host's time in its output record against the record's arrival at the sink.

A stamped case runs `[datetime]::UtcNow` (STAMP_SCRIPT); the simulator shares this machine's
clock, so the arrival minus the stamp is the time from the host's answer to the client's
sink: the record's trip back (and on a Dask cluster the worker's batching, the scheduler's
forwarding and the client's merge). A host's close comes after its answer, so this is the
latency of the event stream, not of the host's final status.
"""

from __future__ import annotations

import datetime
import statistics
import time

from psfleet.events import Event, RecordEvent

STAMP_SCRIPT = "[datetime]::UtcNow"  # benchmarks.cases.STAMP_SCRIPT


class Latency:
    """A sink: seconds from each stamped record's host time to its arrival here."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def handle(self, event: Event) -> None:
        if isinstance(event, RecordEvent) and isinstance(event.data, datetime.datetime):
            stamp = event.data.replace(tzinfo=event.data.tzinfo or datetime.UTC)
            self.seconds.append(time.time() - stamp.timestamp())

    def percentiles_ms(self) -> tuple[float, float] | tuple[None, None]:
        """(p50, p99) in ms; (None, None) when no record was stamped."""
        if not self.seconds:
            return None, None
        ordered = sorted(self.seconds)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return statistics.median(ordered) * 1000, p99 * 1000

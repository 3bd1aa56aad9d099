"""The client's side of the event stream: batches from many workers become one run's stream.

Batches of a chunk are applied in the order they were published. Each host is started once,
done once: a HostDone, or anything after it, from a second run of the host (a chunk run
again after its worker died) is dropped, so no sink ever sees a host twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from psfleet.events import Event, HostDone, HostRetry, HostStarted, HostStatus, RecordEvent
from psfleet.fanout.attempt import Emit
from psfleet.fanout.ondask.wire import Batch
from psfleet.fanout.ondask.worker_logs import replay
from psfleet.fanout.result import FleetResult, HostResult
from psfleet.targets.model import Target


class Ledger:
    def __init__(self, targets: Sequence[Target], emit: Emit, *, collect: bool) -> None:
        self.result = FleetResult({t.name: HostResult(t.name) for t in targets})
        self._emit = emit
        self._collect = collect
        self._started: set[str] = set()
        self._done: set[str] = set()
        self._next_seq: dict[str, int] = {}
        self._held: dict[str, dict[int, Batch]] = {}
        self._settled: set[str] = set()

    def is_done(self, host: str) -> bool:
        return host in self._done

    def received(self, chunk_id: str) -> int:
        """How many of the chunk's batches were applied (they are applied in order)."""
        return self._next_seq.get(chunk_id, 0)

    def forget(self, chunk_id: str) -> None:
        """The chunk is settled: batches still held (their gap never came) go."""
        self._held.pop(chunk_id, None)
        self._settled.add(chunk_id)

    def held(self, chunk_id: str) -> int:
        """Batches of the chunk that wait for an earlier one (at most the flow-control window)."""
        return len(self._held.get(chunk_id, {}))

    async def take(self, batch: Batch) -> None:
        if batch.chunk_id in self._settled:
            return  # too late: its hosts already have their final status
        held = self._held.setdefault(batch.chunk_id, {})
        held[batch.seq] = batch
        seq = self._next_seq.get(batch.chunk_id, 0)
        while seq in held:
            ready = held.pop(seq)
            replay(ready.worker, ready.logs, ready.dropped_logs)
            for event in ready.events:
                await self._apply(event, ready.worker)
            seq += 1
        self._next_seq[batch.chunk_id] = seq

    async def _apply(self, event: Event, worker: str) -> None:
        if not isinstance(event, HostStarted | HostRetry | RecordEvent | HostDone):
            return  # a RunSummary: chunks never send one
        if event.host in self._done:
            return
        if isinstance(event, HostStarted):
            if event.host in self._started:
                return
            self._started.add(event.host)
        elif isinstance(event, RecordEvent):
            event = dataclasses.replace(event, worker=worker)
            if self._collect:
                self.result.hosts[event.host].records.append(event)
        elif isinstance(event, HostDone):
            await self.finish(dataclasses.replace(event, worker=worker))
            return
        await self._emit(event)

    async def finish(self, done: HostDone) -> None:
        """The host's one final status, whoever decided it (a worker, or the client)."""
        if done.host in self._done:
            return
        if done.status is HostStatus.LOST and done.host not in self._started:
            # Its worker claimed it, so it started, but the batch saying so died with the
            # worker: the sinks still see a start before the end, as for every started host.
            self._started.add(done.host)
            await self._emit(HostStarted(done.host, max(done.attempts, 1)))
        self._done.add(done.host)
        host = self.result.hosts[done.host]
        host.status, host.duration_s, host.attempts = done.status, done.duration_s, done.attempts
        host.error_type, host.error_message, host.remedy = (
            done.error_type,
            done.error_message,
            done.remedy,
        )
        await self._emit(done)

    async def finish_unfinished(self, status: HostStatus) -> None:
        for name in self.result.hosts:
            if name not in self._done:
                await self.finish(HostDone(name, status, 0.0, 0))

"""What travels between the client and the workers: chunk specs, event batches, reports.

No secret is ever part of these. A chunk names where its worker finds the password
(`PasswordSource`), never the password: the task graph and the scheduler only ever hold
user names, host names, scripts and the events the hosts produced.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psfleet.events import Event
from psfleet.fanout.options import RunOptions
from psfleet.targets.model import Target

# Scheduler metadata under ["psfleet", run id, ...]: small, and only host and worker names.
METADATA_ROOT = "psfleet"


def topic(run_id: str) -> str:
    """The Dask event topic a run's workers publish its event batches on."""
    return f"psfleet-events-{run_id}"


def stop_event(run_id: str) -> str:
    """The distributed.Event the client sets to interrupt every chunk of a run."""
    return f"psfleet-stop-{run_id}"


def credit_key(run_id: str, chunk_id: str) -> list[str]:
    """Scheduler metadata: how many of the chunk's batches the client has merged."""
    return [METADATA_ROOT, run_id, "merged", chunk_id]


@dataclass(frozen=True, slots=True)
class PasswordSource:
    """Where a worker reads the password: its environment variable, or a file on the worker."""

    env: str = "PSFLEET_PASSWORD"
    file: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkSpec:
    """One Dask task: a chunk of hosts and everything to run there, minus any secret."""

    run_id: str
    chunk_id: str
    targets: Sequence[Target]
    commands: Sequence[str]
    args: Sequence[Any]
    options: RunOptions  # credential without its password, no broker
    password: PasswordSource | None  # None: no password (Kerberos cache, certificate)
    deadline: float | None  # the run's end, time.time() seconds: clocks are assumed in sync
    # How long an event waits on the worker before its batch is sent. Each batch is a message
    # through the scheduler: 250 ms sends a fifth of 50 ms's, for ~100 ms more at p50 and
    # p99 still well inside the 1 s goal (docs/performance.md).
    flush_s: float = 0.25
    log_level: int = logging.WARNING  # the worker's psfleet log records it sends back


@dataclass(frozen=True, slots=True)
class ChunkReport:
    """A chunk task's result. `batches` lets the client wait for every batch it published."""

    chunk_id: str
    worker: str
    batches: int
    superseded: bool = False  # Dask ran the task again after its worker died: nothing was run
    shells_possibly_open: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Batch:
    chunk_id: str
    seq: int
    worker: str
    events: list[Event]
    logs: list[dict[str, Any]] = field(default_factory=list)  # the worker's log records
    dropped_logs: int = 0  # log records past the batch's bound, counted only


def encode_batch(
    chunk_id: str,
    seq: int,
    worker: str,
    events: list[Event],
    logs: list[dict[str, Any]] | None = None,
    dropped_logs: int = 0,
) -> dict[str, Any]:
    """A Dask topic message must be msgpack data: the events ride pickled, as Dask's results
    do; log records are plain data already (ondask.worker_logs)."""
    message = {
        "chunk": chunk_id,
        "seq": seq,
        "worker": worker,
        "events": pickle.dumps(events, protocol=pickle.HIGHEST_PROTOCOL),
    }
    if logs or dropped_logs:  # most batches carry none: their message stays as it was
        message |= {"logs": logs or [], "dropped_logs": dropped_logs}
    return message


def decode_batch(message: dict[str, Any]) -> Batch:
    # Trusted as Dask trusts its own results: the topic is written by the cluster's workers.
    events: list[Event] = pickle.loads(message["events"])
    return Batch(
        message["chunk"],
        message["seq"],
        message["worker"],
        events,
        message.get("logs", []),
        message.get("dropped_logs", 0),
    )

"""Events of a run: frozen, slotted dataclasses that every sink consumes.

A run is a stream of these: a host starts, records arrive on its streams, the
host finishes with exactly one final status, and the run ends with a summary.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class HostStatus(enum.StrEnum):
    """The one final status every host ends with."""

    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    DOUBLE_HOP_DENIED = "double_hop_denied"
    PROTOCOL_ERROR = "protocol_error"  # the host's answers could not be understood
    # the host's command may have run, but its outcome is gone: a cluster worker died while
    # it ran, or its disconnected pool was no longer on the host when the client came back
    LOST = "lost"


class Stream(enum.StrEnum):
    """PowerShell's streams, as Invoke-Command shows them."""

    OUTPUT = "output"
    ERROR = "error"
    WARNING = "warning"
    VERBOSE = "verbose"
    DEBUG = "debug"
    INFORMATION = "information"
    PROGRESS = "progress"


@dataclass(frozen=True, slots=True)
class HostStarted:
    host: str
    attempt: int


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """One record from a host's pipeline on one stream; `data` is the deserialized value."""

    host: str
    stream: Stream
    data: Any
    command_index: int = 0
    worker: str | None = None  # the Dask worker that ran the host; None in a local run


@dataclass(frozen=True, slots=True)
class HostRetry:
    host: str
    attempt: int
    error_type: str
    message: str
    delay_s: float


@dataclass(frozen=True, slots=True)
class HostDone:
    host: str
    status: HostStatus
    duration_s: float
    attempts: int
    error_type: str | None = None
    error_message: str | None = None
    remedy: str | None = None
    worker: str | None = None  # the Dask worker that ran the host; None in a local run
    # File transfer (copy/fetch) only: bytes sent or received, the file's SHA-256, and
    # whether the host's file changed (False: it already had this content, nothing sent).
    bytes: int | None = None
    sha256: str | None = None
    changed: bool | None = None


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """A long copy or fetch on one host, at most once a second: bytes done of `total`."""

    host: str
    done: int
    total: int


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The last event of a run. New fields take a default, so sinks and callers keep working."""

    counts: dict[HostStatus, int]
    wall_s: float
    slowest: tuple[tuple[str, float], ...] = field(default=())
    interrupted: bool = False
    # Hosts where a shell was (or may have been) created and its Delete was not confirmed:
    # it lingers until the host's idle timeout and counts against MaxShellsPerUser.
    shells_possibly_open: tuple[str, ...] = field(default=())
    # Hosts the lockout guard did not present a rejected credential to (auth_failed,
    # error type CredentialWithheld): bad-password attempts the account was spared.
    spared_by_lockout_guard: int = 0


Event = HostStarted | RecordEvent | HostRetry | HostDone | TransferProgress | RunSummary

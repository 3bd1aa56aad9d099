"""What a running script yields: one item per stream record, then Finished."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psrpcore.types import ErrorRecord


@dataclass(frozen=True, slots=True)
class Output:
    value: Any


@dataclass(frozen=True, slots=True)
class Error:
    record: ErrorRecord


@dataclass(frozen=True, slots=True)
class Warning:
    message: str


@dataclass(frozen=True, slots=True)
class Verbose:
    message: str


@dataclass(frozen=True, slots=True)
class Debug:
    message: str


@dataclass(frozen=True, slots=True)
class Information:
    message_data: Any
    source: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Progress:
    activity: str
    status: str
    percent: int = -1
    activity_id: int = 0
    parent_id: int = -1
    current_operation: str | None = None
    seconds_remaining: int = -1
    completed: bool = False


@dataclass(frozen=True, slots=True)
class Sleep:
    """The server should await this long before asking for the next item."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Finished:
    """Always the last item. failed means the pipeline ends Failed with error."""

    failed: bool
    error: ErrorRecord | None = None
    exit_code: int | None = None


# Records on a side stream: they pass through pipeline stages untouched.
@dataclass(frozen=True, slots=True)
class AwaitInput:
    """The script waits for the next pipeline input item (streamed input only)."""


# What a streamed input yields while its next item has not arrived.
INPUT_PENDING = AwaitInput()

StreamItem = Error | Warning | Verbose | Debug | Information | Progress | Sleep
Item = Output | StreamItem | Finished | AwaitInput
STREAM_TYPES = (Error, Warning, Verbose, Debug, Information, Progress, Sleep)

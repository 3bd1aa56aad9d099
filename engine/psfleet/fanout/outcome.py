"""What one attempt at a host ended with, and whether a failed attempt may be tried again.

An attempt either runs every command to its end (a ScriptOutcome, with the script's own
errors) or fails (AttemptFailed, saying whether a command may have run). fanout.status
turns either into the host's final status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psfleet import errors

_KEPT_ERRORS = 20


@dataclass(slots=True)
class ScriptOutcome:
    """How the commands themselves went on a host that was reached."""

    error_records: list[Any] = field(default_factory=list)  # the first few, for diagnosis
    error_count: int = 0
    terminating: Any = None  # the ErrorRecord that ended a Failed pipeline

    @property
    def failed(self) -> bool:
        return self.error_count > 0 or self.terminating is not None

    def add_error(self, record: Any) -> None:
        self.error_count += 1
        if len(self.error_records) < _KEPT_ERRORS:
            self.error_records.append(record)


class AttemptFailed(Exception):
    """One attempt at a host failed; `started` says whether a command may have run."""

    def __init__(self, error: errors.PsfleetError, *, started: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.started = started


def is_retryable(error: errors.PsfleetError) -> bool:
    if isinstance(error, errors.HTTPStatusError):
        return error.is_transient
    return error.retryable


def should_retry(failure: BaseException, *, retry_started: bool) -> bool:
    """Retry only what is safe: a retryable failure, before any command may have run."""
    if not isinstance(failure, AttemptFailed):
        return False
    return is_retryable(failure.error) and (retry_started or not failure.started)

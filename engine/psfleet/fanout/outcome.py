"""From an exception to a host's final status: the one place failures are classified."""

from __future__ import annotations

from dataclasses import dataclass

from psfleet import errors
from psfleet.events import HostStatus


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


@dataclass(frozen=True, slots=True)
class Classified:
    status: HostStatus
    error_type: str
    message: str
    remedy: str | None


def classify(error: BaseException) -> Classified:
    if isinstance(error, errors.PsfleetError):
        remedy = getattr(error, "remedy", None) or None
        return Classified(error.status, type(error).__name__, error.message, remedy)
    # Anything else is a bug of ours; report it on the host rather than lose the run.
    return Classified(HostStatus.FAILED, type(error).__name__, str(error) or repr(error), None)

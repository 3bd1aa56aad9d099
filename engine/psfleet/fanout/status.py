"""A host's final status: one pure function from what happened to the verdict.

Whatever ends a host (its attempts, its deadline watch, the end of the run, a probe)
describes what happened in a `Happened` and asks `final_status`; nothing else decides a
status. The rules, in the order they apply:

1. The commands ran to their end: `ok`, or the script's errors (`failed`, or
   `double_hop_denied` with its remedy).
2. An attempt ended with an error: the status its type means (errors.py), even if the run
   was stopped or a deadline passed meanwhile. A stop reaches an attempt as a cancellation,
   never as an error, so an error is something that happened to the host, often before
   the stop, with the shielded cleanup after it still running. It says more than
   `timeout` or `cancelled` would. An error of the connection or the answers after a
   command started says in its remedy that the command may have run.
   A pool the client came back to (a disconnected run) that the host no longer has:
   `lost`.
3. The host's work was cut off with no error (Ctrl-C, a cancelled run, the host's or the
   run's deadline): `cancelled` or `timeout`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psfleet import errors
from psfleet.events import HostStatus
from psfleet.fanout.diagnose import find_double_hop, remedy
from psfleet.fanout.outcome import ScriptOutcome

# Errors that leave unknown how far a started command got: a dropped connection, a wait
# that went unanswered, an answer that could not be read, an HTTP error instead of one.
_LOST_TRACK = (
    errors.ConnectError,
    errors.OperationTimeout,
    errors.ProtocolError,
    errors.HTTPStatusError,
)
_LOST = (
    "the host no longer has this pool: it was deleted past its IdleTimeOut (or the host "
    "restarted, or the command never started); its output is gone"
)
_MAY_HAVE_RUN = (
    "A command had started: it may have run on the host, in full or in part. Check before "
    "running it again (psfleet retries a started command only with --retry-started)."
)


class Stop(enum.Enum):
    """Why a host's work was cut off before it finished."""

    INTERRUPTED = "interrupted"  # the user stopped the run (Ctrl-C, Scheduler.interrupt)
    CANCELLED = "cancelled"  # the caller cancelled the run itself
    HOST_DEADLINE = "host deadline"  # --timeout: seconds per host, retries included
    RUN_DEADLINE = "run deadline"  # --run-timeout: seconds for the whole run


@dataclass(frozen=True, slots=True)
class Happened:
    """What happened to one host, as the code that ends it saw it."""

    host: str
    script: ScriptOutcome | None = None  # the commands ran to their end
    error: BaseException | None = None  # what ended the last attempt
    started: bool = False  # a command may have run before `error`
    stop: Stop | None = None  # the host's work was cut off
    limit_s: float | None = None  # the deadline's seconds, when `stop` is a deadline
    reattaching: bool = False  # the client came back to a pool it left disconnected


@dataclass(frozen=True, slots=True)
class Verdict:
    """A host's final status and, unless it is ok, why and what to do about it."""

    status: HostStatus
    error_type: str | None = None
    message: str | None = None
    remedy: str | None = None


OK = Verdict(HostStatus.OK)


def final_status(happened: Happened) -> Verdict:
    if happened.script is not None:
        return _script_verdict(happened.host, happened.script)
    if happened.error is not None:
        if happened.reattaching and isinstance(happened.error, errors.ShellNotFound):
            return Verdict(HostStatus.LOST, "ShellNotFound", _LOST)
        return _error_verdict(happened.error, started=happened.started)
    if happened.stop is not None:
        return _stopped(happened.stop, happened.limit_s)
    return Verdict(HostStatus.CANCELLED, "Cancelled", "the host did not finish")


def _stopped(stop: Stop, limit_s: float | None) -> Verdict:
    within = f" within {limit_s:g}s" if limit_s is not None else " in time"
    if stop is Stop.HOST_DEADLINE:
        return Verdict(HostStatus.TIMEOUT, "OperationTimeout", f"the host did not finish{within}")
    if stop is Stop.RUN_DEADLINE:
        return Verdict(HostStatus.TIMEOUT, "OperationTimeout", f"the run did not finish{within}")
    how = "interrupted" if stop is Stop.INTERRUPTED else "cancelled"
    message = f"the run was {how} before this host finished"
    return Verdict(HostStatus.CANCELLED, "Cancelled", message)


def _error_verdict(error: BaseException, *, started: bool) -> Verdict:
    if not isinstance(error, errors.PsfleetError):
        # A bug of ours: report it on the host rather than lose the run.
        return Verdict(HostStatus.FAILED, type(error).__name__, str(error) or repr(error))
    advice = getattr(error, "remedy", None) or None
    if advice is None and started and isinstance(error, _LOST_TRACK):
        advice = _MAY_HAVE_RUN
    return Verdict(error.status, type(error).__name__, error.message, advice)


def _script_verdict(host: str, script: ScriptOutcome) -> Verdict:
    if not script.failed:
        return OK
    terminating = script.terminating
    ended = [terminating] if terminating is not None else []
    records: Sequence[Any] = [*script.error_records, *ended]
    hop = find_double_hop(host, records)
    if hop is not None:
        return Verdict(
            HostStatus.DOUBLE_HOP_DENIED,
            "DoubleHopDenied",
            str(getattr(hop.record, "message", "Access is denied")),
            remedy(host, hop.second_hop),
        )
    if terminating is not None:
        message = str(getattr(terminating, "message", terminating))
        return Verdict(HostStatus.FAILED, "RemoteScriptError", message)
    count = script.error_count
    first = str(getattr(records[0], "message", records[0])) if records else ""
    plural = "s" if count != 1 else ""
    return Verdict(HostStatus.FAILED, "RemoteScriptError", f"{count} error record{plural}: {first}")

"""A host's final status, case by case: what happened to it in, one verdict out.

Each row is something the scheduler (or the bench probe) can see at the end of a host:
the script's outcome, the error that ended its last attempt and whether a command had
started, and what cut its work off (Ctrl-C, a cancelled run, the host's or the run's
deadline). The tricky rows are the combinations.
"""

from __future__ import annotations

import pytest

from psfleet import errors
from psfleet.events import HostStatus
from psfleet.fanout.outcome import ScriptOutcome
from psfleet.fanout.result import FleetResult, HostResult
from psfleet.fanout.status import Happened, Stop, Verdict, final_status
from psfleet.session.records import ErrorRecord
from psfleet.transport.credentials import AUTH_FAILED_REMEDY, CredentialWithheld

HOST = "node01"
MAY_HAVE_RUN = "may have run"


class Has(str):
    """Equal to any string that contains it: for messages and remedies too long to repeat."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and str.__contains__(other, self)

    def __hash__(self) -> int:
        return str.__hash__(self)


def record(message: str, error_id: str, target: str | None = None) -> ErrorRecord:
    return ErrorRecord(
        HOST, message, "PermissionDenied", "PermissionDenied: (:) []", error_id, None, target
    )


def script(*records: ErrorRecord, terminating: ErrorRecord | None = None) -> ScriptOutcome:
    outcome = ScriptOutcome(terminating=terminating)
    for each in records:
        outcome.add_error(each)
    return outcome


NOT_FOUND = record("Cannot find path 'C:\\nope'", "PathNotFound,GetItemCommand", "C:\\nope")
THROWN = record("boom", "boom")
SECOND_HOP = record("Access is denied.", "AccessDenied,PSSessionStateBroken", "node02")
SAME_HOST = record("Access is denied.", "AccessDenied,PSSessionStateBroken", "node01.lab.test")

refused = errors.ConnectError("cannot connect: Connection refused", host=HOST)
dropped = errors.ConnectError("the connection was closed during the request", host=HOST)
no_answer = errors.OperationTimeout("no answer within 2s", host=HOST)
garbage = errors.ProtocolError("HTTP 500 whose body is not a WSMan fault", host=HOST)
rejected = errors.AuthError("rejected", host=HOST, remedy=AUTH_FAILED_REMEDY)
withheld = CredentialWithheld(
    "not tried: credential rejected 3 times (lockout guard)", host=HOST, remedy=AUTH_FAILED_REMEDY
)
quota = errors.QuotaExceeded("The maximum number of shells is reached", code=2150859174, host=HOST)
hop_remedy = "Enable-WSManCredSSP"

CASES = [
    # The commands ran to their end.
    pytest.param(Happened(HOST, script=script()), Verdict(HostStatus.OK), id="ok"),
    pytest.param(
        Happened(HOST, script=script(NOT_FOUND, THROWN)),
        Verdict(HostStatus.FAILED, "RemoteScriptError", Has("2 error records: Cannot find path")),
        id="error records fail the host",
    ),
    pytest.param(
        Happened(HOST, script=script(*[NOT_FOUND] * 25)),
        Verdict(HostStatus.FAILED, "RemoteScriptError", Has("25 error records")),
        id="every error record is counted, not only those kept",
    ),
    pytest.param(
        Happened(HOST, script=script(NOT_FOUND, terminating=THROWN)),
        Verdict(HostStatus.FAILED, "RemoteScriptError", "boom"),
        id="a terminating error names the host's failure",
    ),
    pytest.param(
        Happened(HOST, script=script(SECOND_HOP)),
        Verdict(
            HostStatus.DOUBLE_HOP_DENIED, "DoubleHopDenied", "Access is denied.", Has(hop_remedy)
        ),
        id="access denied on a second host is the double hop",
    ),
    pytest.param(
        Happened(HOST, script=script(terminating=SECOND_HOP)),
        Verdict(
            HostStatus.DOUBLE_HOP_DENIED, "DoubleHopDenied", "Access is denied.", Has("node02")
        ),
        id="a terminating double hop",
    ),
    pytest.param(
        Happened(HOST, script=script(SAME_HOST)),
        Verdict(HostStatus.FAILED, "RemoteScriptError", Has("1 error record: Access is denied")),
        id="access denied on the host itself is no double hop",
    ),
    pytest.param(
        Happened(HOST, script=script(), stop=Stop.INTERRUPTED),
        Verdict(HostStatus.OK),
        id="commands that finished stay ok when Ctrl-C comes after",
    ),
    # An attempt failed, nothing cut it off.
    pytest.param(
        Happened(HOST, error=refused),
        Verdict(HostStatus.UNREACHABLE, "ConnectError", refused.message),
        id="refused",
    ),
    pytest.param(
        Happened(HOST, error=errors.TLSError("certificate verification failed", host=HOST)),
        Verdict(HostStatus.UNREACHABLE, "TLSError", "certificate verification failed"),
        id="tls",
    ),
    pytest.param(
        Happened(HOST, error=errors.HTTPStatusError(503, "HTTP 503 Service Unavailable")),
        Verdict(HostStatus.UNREACHABLE, "HTTPStatusError", "HTTP 503 Service Unavailable"),
        id="an http error status",
    ),
    pytest.param(
        Happened(HOST, error=rejected),
        Verdict(HostStatus.AUTH_FAILED, "AuthError", "rejected", AUTH_FAILED_REMEDY),
        id="rejected credentials",
    ),
    pytest.param(
        Happened(HOST, error=withheld),
        Verdict(HostStatus.AUTH_FAILED, "CredentialWithheld", withheld.message, AUTH_FAILED_REMEDY),
        id="credential withheld by the lockout guard",
    ),
    pytest.param(
        Happened(HOST, error=errors.DelegationRefused("not in --delegate-to", remedy="add it")),
        Verdict(HostStatus.AUTH_FAILED, "DelegationRefused", "not in --delegate-to", "add it"),
        id="delegation refused",
    ),
    pytest.param(
        Happened(HOST, error=no_answer),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", "no answer within 2s"),
        id="a timeout during auth: the handshake's request went unanswered",
    ),
    pytest.param(
        Happened(HOST, error=garbage),
        Verdict(HostStatus.PROTOCOL_ERROR, "ProtocolError", garbage.message),
        id="garbage",
    ),
    pytest.param(
        Happened(HOST, error=quota),
        Verdict(HostStatus.FAILED, "QuotaExceeded", quota.message),
        id="a wsman fault",
    ),
    pytest.param(
        Happened(HOST, error=errors.UsageError("unknown auth 'x' in the inventory")),
        Verdict(HostStatus.FAILED, "UsageError", "unknown auth 'x' in the inventory"),
        id="a usage error",
    ),
    pytest.param(
        Happened(HOST, error=errors.Cancelled("cancelled")),
        Verdict(HostStatus.CANCELLED, "Cancelled", "cancelled"),
        id="a cancelled error",
    ),
    pytest.param(
        Happened(HOST, error=KeyError("pool")),
        Verdict(HostStatus.FAILED, "KeyError", "'pool'"),
        id="a bug of ours is reported on the host",
    ),
    # An attempt failed after a command started: the command may have run.
    pytest.param(
        Happened(HOST, error=dropped, started=True),
        Verdict(HostStatus.UNREACHABLE, "ConnectError", dropped.message, Has(MAY_HAVE_RUN)),
        id="a dropped connection after the command started",
    ),
    pytest.param(
        Happened(HOST, error=garbage, started=True),
        Verdict(HostStatus.PROTOCOL_ERROR, "ProtocolError", garbage.message, Has(MAY_HAVE_RUN)),
        id="garbage after the command started",
    ),
    pytest.param(
        Happened(HOST, error=no_answer, started=True),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", no_answer.message, Has(MAY_HAVE_RUN)),
        id="no answer after the command started",
    ),
    pytest.param(
        Happened(HOST, error=quota, started=True),
        Verdict(HostStatus.FAILED, "QuotaExceeded", quota.message),
        id="a fault refused the next command: nothing new may have run",
    ),
    # The host's work was cut off.
    pytest.param(
        Happened(HOST, stop=Stop.INTERRUPTED),
        Verdict(
            HostStatus.CANCELLED, "Cancelled", "the run was interrupted before this host finished"
        ),
        id="ctrl-c",
    ),
    pytest.param(
        Happened(HOST, stop=Stop.CANCELLED),
        Verdict(
            HostStatus.CANCELLED, "Cancelled", "the run was cancelled before this host finished"
        ),
        id="the caller cancelled the run",
    ),
    pytest.param(
        Happened(HOST, stop=Stop.HOST_DEADLINE, limit_s=5.0),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", "the host did not finish within 5s"),
        id="the host's deadline, wherever it caught the host (auth, a pool, a command)",
    ),
    pytest.param(
        Happened(HOST, stop=Stop.RUN_DEADLINE, limit_s=60.0),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", "the run did not finish within 60s"),
        id="the run's deadline",
    ),
    pytest.param(
        Happened(HOST, stop=Stop.HOST_DEADLINE),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", "the host did not finish in time"),
        id="a deadline whose seconds are unknown",
    ),
    pytest.param(
        Happened(HOST),
        Verdict(HostStatus.CANCELLED, "Cancelled", "the host did not finish"),
        id="nothing happened: the host never finished",
    ),
    # Cut off after an error: a stop reaches an attempt as a cancellation, so the error is
    # what happened to the host; the stop only caught its cleanup.
    pytest.param(
        Happened(HOST, error=dropped, started=True, stop=Stop.INTERRUPTED),
        Verdict(HostStatus.UNREACHABLE, "ConnectError", dropped.message, Has(MAY_HAVE_RUN)),
        id="ctrl-c during the cleanup after a dropped connection: unreachable",
    ),
    pytest.param(
        Happened(HOST, error=KeyError("state"), stop=Stop.INTERRUPTED),
        Verdict(HostStatus.FAILED, "KeyError", "'state'"),
        id="ctrl-c does not hide a bug of ours",
    ),
    pytest.param(
        Happened(HOST, error=garbage, stop=Stop.HOST_DEADLINE, limit_s=5.0),
        Verdict(HostStatus.PROTOCOL_ERROR, "ProtocolError", garbage.message),
        id="a protocol error reported after the deadline is still garbage",
    ),
    pytest.param(
        Happened(HOST, error=refused, stop=Stop.RUN_DEADLINE, limit_s=60.0),
        Verdict(HostStatus.UNREACHABLE, "ConnectError", refused.message),
        id="a connect error reported after the run's deadline is still unreachable",
    ),
    pytest.param(
        Happened(HOST, error=no_answer, stop=Stop.HOST_DEADLINE, limit_s=5.0),
        Verdict(HostStatus.TIMEOUT, "OperationTimeout", "no answer within 2s"),
        id="a timeout during auth that the deadline then caught names the unanswered wait",
    ),
    pytest.param(
        Happened(HOST, error=rejected, stop=Stop.HOST_DEADLINE, limit_s=5.0),
        Verdict(HostStatus.AUTH_FAILED, "AuthError", "rejected", AUTH_FAILED_REMEDY),
        id="a login refused at the deadline is still refused",
    ),
    pytest.param(
        Happened(HOST, error=withheld, stop=Stop.INTERRUPTED),
        Verdict(HostStatus.AUTH_FAILED, "CredentialWithheld", withheld.message, AUTH_FAILED_REMEDY),
        id="a credential withheld before ctrl-c stays withheld (the summary counts it)",
    ),
    pytest.param(
        Happened(HOST, error=quota, stop=Stop.RUN_DEADLINE, limit_s=60.0),
        Verdict(HostStatus.FAILED, "QuotaExceeded", quota.message),
        id="a fault at the run's deadline is the host's answer",
    ),
    pytest.param(
        Happened(HOST, error=errors.ShellNotFound("no such shell", host=HOST), reattaching=True),
        Verdict(
            HostStatus.LOST,
            "ShellNotFound",
            "the host no longer has this pool: it was deleted past its IdleTimeOut (or the host "
            "restarted, or the command never started); its output is gone",
        ),
        id="a disconnected pool the host no longer has is lost",
    ),
]


@pytest.mark.parametrize(("happened", "verdict"), CASES)
def test_final_status(happened: Happened, verdict: Verdict) -> None:
    assert final_status(happened) == verdict


def test_the_table_reaches_every_status() -> None:
    verdicts = [case.values[1] for case in CASES]
    # lost is reached here by a pool gone while disconnected; the Dask executor's client also
    # gives it to a dead worker's host, outside this function.
    reached = {v.status for v in verdicts if isinstance(v, Verdict)}
    assert reached == set(HostStatus)


def test_a_protocol_error_host_makes_the_run_exit_1_and_is_counted() -> None:
    result = FleetResult(
        {
            "node01": HostResult("node01", HostStatus.OK),
            "node07": HostResult("node07", HostStatus.PROTOCOL_ERROR),
        }
    )
    assert result.exit_code == 1
    assert result.counts[HostStatus.PROTOCOL_ERROR] == 1
    assert result.shells_possibly_open == []

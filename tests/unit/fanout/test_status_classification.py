"""Garbage from a host is its own status, not a script failure, and a run with it exits 1."""

from __future__ import annotations

from psfleet import errors
from psfleet.events import HostStatus
from psfleet.fanout.outcome import classify
from psfleet.fanout.result import FleetResult, HostResult


def test_an_answer_that_cannot_be_understood_is_a_protocol_error_not_a_failed_script() -> None:
    classified = classify(errors.ProtocolError("malformed XML: unclosed token", host="node07"))
    assert classified.status is HostStatus.PROTOCOL_ERROR
    assert classified.error_type == "ProtocolError"
    assert classify(errors.RemoteScriptError("boom")).status is HostStatus.FAILED


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

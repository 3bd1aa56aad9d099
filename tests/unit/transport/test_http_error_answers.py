"""An HTTP error answer becomes the error its body supports: a fault, garbage, or a plain status.

WinRM sends a WSMan fault with every 500; anything else in a 500's body is an answer
psfleet cannot understand (protocol_error), while a bodiless 500 or a 503 plainly says
the service cannot serve (unreachable).
"""

from __future__ import annotations

import pytest

from psfleet import errors
from psfleet.events import HostStatus
from psfleet.transport.failures import status_error
from psfleet.wsman.faults import FaultCode, build_fault

NOISE = bytes(range(256)) * 4  # what the corrupting proxy's garbage_500 sends


@pytest.mark.parametrize(
    "body",
    [NOISE, b"<html><body>Internal Server Error</body></html>", b"<s:Envelope><unclosed>"],
    ids=["binary noise", "an html page", "unfinished xml"],
)
def test_a_500_whose_body_is_not_a_fault_is_a_protocol_error(body: bytes) -> None:
    error = status_error(500, "Internal Server Error", body, "node01")
    assert type(error) is errors.ProtocolError
    assert error.status is HostStatus.PROTOCOL_ERROR
    assert error.message == "HTTP 500 Internal Server Error whose body is not a WSMan fault"
    assert not error.retryable


def test_a_500_with_a_fault_is_the_fault() -> None:
    body = build_fault(
        FaultCode.QUOTA_MAX_SHELLS, "too many shells", relates_to="uuid:1", machine="n"
    )
    error = status_error(500, "Internal Server Error", body, "node01")
    assert isinstance(error, errors.QuotaExceeded)


@pytest.mark.parametrize(
    ("status", "body", "transient"),
    [(500, b"", False), (500, b" \r\n", False), (503, b"busy", True), (404, b"Not Found", False)],
)
def test_a_bare_status_says_the_service_cannot_serve(
    status: int, body: bytes, transient: bool
) -> None:
    error = status_error(status, "Reason", body, "node01")
    assert isinstance(error, errors.HTTPStatusError)
    assert (error.http_status, error.is_transient) == (status, transient)
    assert error.status is HostStatus.UNREACHABLE

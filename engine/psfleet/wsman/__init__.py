"""Sans-IO WS-Management: build and parse envelopes, shell messages and faults.

Bytes in, dataclasses out; no sockets. Shared by the client and by simfleet.
"""

from psfleet.wsman.envelope import Envelope, build_request, build_response, parse_envelope
from psfleet.wsman.faults import Fault, FaultCode, build_fault, fault_to_error, parse_fault

__all__ = [
    "Envelope",
    "Fault",
    "FaultCode",
    "build_fault",
    "build_request",
    "build_response",
    "fault_to_error",
    "parse_envelope",
    "parse_fault",
]

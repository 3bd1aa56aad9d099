"""WS-Management faults: the Windows codes, parsing, building, and mapping to typed errors."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from xml.sax.saxutils import escape

from psfleet import errors
from psfleet.wsman import names
from psfleet.wsman.envelope import Envelope, build_response


class FaultCode(enum.IntEnum):
    """Windows error codes carried in WSManFault/@Code (wsmerror.h)."""

    ACCESS_DENIED = 5
    OPERATION_TIMEDOUT = 2150858793  # a Receive long poll expired: poll again
    ACTION_NOT_SUPPORTED = 2150858771
    INVALID_XML = 2150858819
    SCHEMA_VALIDATION_ERROR = 2150858817
    ENVELOPE_TOO_LARGE = 2150858825
    SHELL_NOT_FOUND = 2150858843  # ERROR_WSMAN_UNEXPECTED_SELECTORS
    INVALID_COMMAND_HANDLE = 2150859085
    QUOTA_MAX_SHELLS = 2150859173
    QUOTA_MAX_OPERATIONS = 2150859174
    QUOTA_MAX_SHELLUSERS = 2150859179
    RESOURCE_NOT_FOUND = 2150858752
    INTERNAL_ERROR = 2150858754


_QUOTA_CODES = frozenset(
    {FaultCode.QUOTA_MAX_SHELLS, FaultCode.QUOTA_MAX_OPERATIONS, FaultCode.QUOTA_MAX_SHELLUSERS}
)
_SHELL_GONE_CODES = frozenset({FaultCode.SHELL_NOT_FOUND, FaultCode.INVALID_COMMAND_HANDLE})

# The SOAP subcode Windows pairs with each code.
_SUBCODES: dict[int, str] = {
    FaultCode.ACCESS_DENIED: "w:AccessDenied",
    FaultCode.OPERATION_TIMEDOUT: "w:TimedOut",
    FaultCode.ACTION_NOT_SUPPORTED: "a:ActionNotSupported",
    FaultCode.INVALID_XML: "w:SchemaValidationError",
    FaultCode.SCHEMA_VALIDATION_ERROR: "w:SchemaValidationError",
    FaultCode.ENVELOPE_TOO_LARGE: "w:EncodingLimit",
    FaultCode.SHELL_NOT_FOUND: "w:InvalidSelectors",
    FaultCode.INVALID_COMMAND_HANDLE: "w:InvalidSelectors",
    FaultCode.QUOTA_MAX_SHELLS: "w:QuotaLimit",
    FaultCode.QUOTA_MAX_OPERATIONS: "w:QuotaLimit",
    FaultCode.QUOTA_MAX_SHELLUSERS: "w:QuotaLimit",
    FaultCode.RESOURCE_NOT_FOUND: "w:DestinationUnreachable",
    FaultCode.INTERNAL_ERROR: "w:InternalError",
}
_SENDER_CODES = frozenset(
    {
        FaultCode.ACTION_NOT_SUPPORTED,
        FaultCode.INVALID_XML,
        FaultCode.SCHEMA_VALIDATION_ERROR,
        FaultCode.ENVELOPE_TOO_LARGE,
        FaultCode.SHELL_NOT_FOUND,
        FaultCode.INVALID_COMMAND_HANDLE,
        FaultCode.ACCESS_DENIED,
    }
)


@dataclass(frozen=True, slots=True)
class Fault:
    """A parsed SOAP/WSMan fault."""

    code: int | None
    subcode: str | None
    reason: str
    machine: str | None
    message: str

    @property
    def is_receive_timeout(self) -> bool:
        """The long poll expired with nothing to say: normal, poll again."""
        return self.code == FaultCode.OPERATION_TIMEDOUT or (
            self.subcode is not None and self.subcode.endswith("TimedOut")
        )


def _local(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def parse_fault(envelope: Envelope) -> Fault:
    """Read the fault out of an envelope whose body is s:Fault."""
    body = envelope.body
    if body is None or not envelope.is_fault:
        raise errors.ProtocolError("envelope carries no fault")
    subcode_el = body.find(
        f"{_local(names.NS_SOAP, 'Code')}/{_local(names.NS_SOAP, 'Subcode')}/"
        f"{_local(names.NS_SOAP, 'Value')}"
    )
    reason_el = body.find(f"{_local(names.NS_SOAP, 'Reason')}/{_local(names.NS_SOAP, 'Text')}")
    detail = body.find(
        f"{_local(names.NS_SOAP, 'Detail')}/{_local(names.NS_WSMAN_FAULT, 'WSManFault')}"
    )
    code: int | None = None
    machine: str | None = None
    message = ""
    if detail is not None:
        raw_code = detail.get("Code")
        code = int(raw_code) if raw_code and raw_code.isdigit() else None
        machine = detail.get("Machine")
        message = " ".join("".join(detail.itertext()).split())
    reason = " ".join((reason_el.text or "").split()) if reason_el is not None else ""
    return Fault(
        code=code,
        subcode=(subcode_el.text or "").strip() if subcode_el is not None else None,
        reason=reason,
        machine=machine,
        message=message or reason or "WS-Management fault without a message",
    )


def fault_to_error(fault: Fault, *, host: str | None = None) -> errors.WSManFault:
    """The typed error for a fault: the one place where codes become types."""
    error_type: type[errors.WSManFault] = errors.WSManFault
    if fault.code in _QUOTA_CODES:
        error_type = errors.QuotaExceeded
    elif fault.code in _SHELL_GONE_CODES:
        error_type = errors.ShellNotFound
    return error_type(
        fault.message, code=fault.code, subcode=fault.subcode, machine=fault.machine, host=host
    )


def fault_body(code: int, message: str, *, machine: str) -> str:
    """The s:Fault body element, shaped like Windows Server 2016's."""
    subcode = _SUBCODES.get(code, "w:InternalError")
    role = "s:Sender" if code in _SENDER_CODES else "s:Receiver"
    text = escape(message)
    return (
        f"<s:Fault><s:Code><s:Value>{role}</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{text}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{names.NS_WSMAN_FAULT}" Code="{code}" '
        f'Machine="{escape(machine)}"><f:Message>{text}</f:Message></f:WSManFault>'
        "</s:Detail></s:Fault>"
    )


def build_fault(code: int, message: str, *, relates_to: str, machine: str) -> bytes:
    """A complete fault envelope (sent with HTTP 500, as Windows does)."""
    return build_response(
        action=names.ACTION_FAULT,
        relates_to=relates_to,
        body=fault_body(code, message, machine=machine),
    )

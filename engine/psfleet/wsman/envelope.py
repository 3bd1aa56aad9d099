"""Build and parse SOAP envelopes of WS-Management.

Requests are built from string templates (an ElementTree build costs several times
more and the client sends thousands per second); parsing uses ElementTree and
matches elements by namespace URI.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from psfleet.errors import ProtocolError
from psfleet.wsman import names, stream_text

_ENVELOPE_OPEN = (
    f'<s:Envelope xmlns:s="{names.NS_SOAP}" xmlns:wsa="{names.NS_ADDRESSING}" '
    f'xmlns:wsman="{names.NS_WSMAN}" xmlns:wsmv="{names.NS_WSMAN_MS}" '
    f'xmlns:rsp="{names.NS_SHELL}">'
)
_RESPONSE_OPEN = (
    f'<s:Envelope xml:lang="en-US" xmlns:s="{names.NS_SOAP}" xmlns:a="{names.NS_ADDRESSING}" '
    f'xmlns:x="{names.NS_TRANSFER}" xmlns:w="{names.NS_WSMAN}" xmlns:rsp="{names.NS_SHELL}" '
    f'xmlns:p="{names.NS_WSMAN_MS}">'
)


def new_message_id() -> str:
    """A random (version 4) UUID as WinRM writes MessageIDs: uuid:XXXXXXXX-XXXX-4XXX-...

    Formatted from 16 random bytes directly: uuid.uuid4() and str() cost twice as much,
    and every request needs one.
    """
    h = os.urandom(16).hex().upper()
    variant = "89AB"[int(h[16], 16) & 3]
    return f"uuid:{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


def format_duration(seconds: float) -> str:
    """xs:duration as WinRM writes it (PT20S, PT0.500S)."""
    if float(seconds).is_integer():
        return f"PT{int(seconds)}S"
    return f"PT{seconds:.3f}S"


def parse_duration(text: str) -> float:
    """Parse the PTnS / PTn.nnnS forms WinRM uses for OperationTimeout."""
    value = text.strip().upper()
    if not value.startswith("PT") or not value.endswith("S"):
        raise ProtocolError(f"unsupported duration {text!r}")
    try:
        return float(value[2:-1])
    except ValueError as exc:
        raise ProtocolError(f"unsupported duration {text!r}") from exc


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """A request envelope complete but for its MessageID and Body.

    A shell sends the same headers again and again (a Receive differs only in its
    MessageID), so WSManShell keeps one template per action instead of rebuilding
    and re-escaping the headers for every request.
    """

    head: str  # everything before the MessageID
    tail: str  # from after the MessageID to the opening of the Body

    def build(self, body: str, message_id: str | None = None) -> tuple[bytes, str]:
        """(envelope bytes, MessageID) so the caller can match RelatesTo."""
        message_id = message_id or new_message_id()
        envelope = f"{self.head}{message_id}{self.tail}{body}</s:Body></s:Envelope>"
        return envelope.encode("utf-8"), message_id


def request_template(
    *,
    action: str,
    to: str,
    resource_uri: str,
    session_id: str | None = None,
    selectors: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
    options_must_comply: bool = False,
    max_envelope_size: int = names.DEFAULT_MAX_ENVELOPE_SIZE,
    operation_timeout_s: float = 20,
    locale: str = "en-US",
) -> RequestTemplate:
    head = [
        _ENVELOPE_OPEN,
        "<s:Header>",
        f'<wsa:Action s:mustUnderstand="true">{escape(action)}</wsa:Action>',
        f'<wsmv:DataLocale s:mustUnderstand="false" xml:lang="{locale}"/>',
        f'<wsman:Locale s:mustUnderstand="false" xml:lang="{locale}"/>',
        f'<wsman:MaxEnvelopeSize s:mustUnderstand="true">{max_envelope_size}'
        "</wsman:MaxEnvelopeSize>",
        "<wsa:MessageID>",
    ]
    tail = [
        "</wsa:MessageID>",
        f"<wsman:OperationTimeout>{format_duration(operation_timeout_s)}</wsman:OperationTimeout>",
        f'<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">{names.ANONYMOUS}'
        "</wsa:Address></wsa:ReplyTo>",
        f'<wsman:ResourceURI s:mustUnderstand="true">{escape(resource_uri)}</wsman:ResourceURI>',
    ]
    if session_id:
        tail.append(f'<wsmv:SessionId s:mustUnderstand="false">{session_id}</wsmv:SessionId>')
    tail.append(f"<wsa:To>{escape(to)}</wsa:To>")
    if options:
        comply = ' MustComply="true"' if options_must_comply else ""
        tail.append('<wsman:OptionSet s:mustUnderstand="true">')
        tail.extend(
            f"<wsman:Option{comply} Name={quoteattr(k)}>{escape(v)}</wsman:Option>"
            for k, v in options.items()
        )
        tail.append("</wsman:OptionSet>")
    if selectors:
        tail.append("<wsman:SelectorSet>")
        tail.extend(
            f"<wsman:Selector Name={quoteattr(k)}>{escape(v)}</wsman:Selector>"
            for k, v in selectors.items()
        )
        tail.append("</wsman:SelectorSet>")
    tail.append("</s:Header><s:Body>")
    return RequestTemplate("".join(head), "".join(tail))


def build_request(
    *,
    action: str,
    to: str,
    resource_uri: str,
    body: str,
    message_id: str | None = None,
    session_id: str | None = None,
    selectors: Mapping[str, str] | None = None,
    options: Mapping[str, str] | None = None,
    options_must_comply: bool = False,
    max_envelope_size: int = names.DEFAULT_MAX_ENVELOPE_SIZE,
    operation_timeout_s: float = 20,
    locale: str = "en-US",
) -> tuple[bytes, str]:
    """Build one request envelope; returns (bytes, MessageID) so the caller can match RelatesTo."""
    template = request_template(
        action=action,
        to=to,
        resource_uri=resource_uri,
        session_id=session_id,
        selectors=selectors,
        options=options,
        options_must_comply=options_must_comply,
        max_envelope_size=max_envelope_size,
        operation_timeout_s=operation_timeout_s,
        locale=locale,
    )
    return template.build(body, message_id)


def build_response(
    *, action: str, relates_to: str, body: str, message_id: str | None = None
) -> bytes:
    """Build a response envelope shaped like Windows Server's."""
    return (
        f"{_RESPONSE_OPEN}<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>{message_id or new_message_id()}</a:MessageID>"
        f"<a:To>{names.ANONYMOUS}</a:To><a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


@dataclass(frozen=True, slots=True)
class Envelope:
    """The header fields psfleet uses, plus the first element of the body (if any)."""

    action: str
    message_id: str
    relates_to: str | None
    resource_uri: str | None
    to: str | None
    max_envelope_size: int | None
    operation_timeout_s: float | None
    selectors: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    body: ET.Element | None = None
    is_fault: bool = False


def _tag(ns: str, local: str) -> str:
    return f"{{{ns}}}{local}"


_HEADER = _tag(names.NS_SOAP, "Header")
_BODY = _tag(names.NS_SOAP, "Body")
_FAULT = _tag(names.NS_SOAP, "Fault")
_SELECTOR_SET = _tag(names.NS_WSMAN, "SelectorSet")
_OPTION_SET = _tag(names.NS_WSMAN, "OptionSet")
_HEADER_TEXT_FIELDS = {
    _tag(names.NS_ADDRESSING, "Action"): "action",
    _tag(names.NS_ADDRESSING, "MessageID"): "message_id",
    _tag(names.NS_ADDRESSING, "RelatesTo"): "relates_to",
    _tag(names.NS_ADDRESSING, "To"): "to",
    _tag(names.NS_WSMAN, "ResourceURI"): "resource_uri",
    _tag(names.NS_WSMAN, "MaxEnvelopeSize"): "max_envelope_size",
    _tag(names.NS_WSMAN, "OperationTimeout"): "operation_timeout",
}


_DTD = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)  # one pass over the bytes


def parse_xml(data: bytes | str) -> ET.Element:
    """Parse XML, refusing DTDs (entity expansion); malformed input is a ProtocolError."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "replace")
    # Bytes only: expat reads them in their declared encoding, skeleton and whole alike.
    lifted = stream_text.lift(data) if isinstance(data, bytes) else None
    if lifted is not None:
        # The lifted text holds no `<`: a DTD could only be in the skeleton.
        _refuse_dtd(lifted.skeleton)
        with contextlib.suppress(ET.ParseError):
            root = ET.fromstring(lifted.skeleton)
            if lifted.restore(root):
                return root
    _refuse_dtd(raw)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProtocolError(f"malformed XML: {exc}") from exc


def _refuse_dtd(raw: bytes) -> None:
    # WSMan never carries a DTD; refusing one anywhere rules out entity expansion.
    if _DTD.search(raw):
        raise ProtocolError("XML with a DTD is not accepted")


def parse_envelope(data: bytes | str) -> Envelope:
    """Parse a SOAP envelope (request or response) into an Envelope."""
    root = parse_xml(data)
    if root.tag != _tag(names.NS_SOAP, "Envelope"):
        raise ProtocolError(f"not a SOAP 1.2 envelope: root element {root.tag}")
    header = root.find(_HEADER)
    body_el = root.find(_BODY)
    if body_el is None:
        raise ProtocolError("SOAP envelope without a Body")
    fields: dict[str, str] = {}
    selectors: dict[str, str] = {}
    options: dict[str, str] = {}
    if header is not None:
        for child in header:
            key = _HEADER_TEXT_FIELDS.get(child.tag)
            if key is not None:
                fields[key] = (child.text or "").strip()
            elif child.tag == _SELECTOR_SET:
                selectors = {s.get("Name", ""): (s.text or "").strip() for s in child}
            elif child.tag == _OPTION_SET:
                options = {o.get("Name", ""): (o.text or "").strip() for o in child}
    body = next(iter(body_el), None)
    try:
        max_size = int(fields["max_envelope_size"]) if "max_envelope_size" in fields else None
    except ValueError as exc:
        raise ProtocolError("MaxEnvelopeSize is not a number") from exc
    timeout = fields.get("operation_timeout")
    return Envelope(
        action=fields.get("action", ""),
        message_id=fields.get("message_id", ""),
        relates_to=fields.get("relates_to"),
        resource_uri=fields.get("resource_uri"),
        to=fields.get("to"),
        max_envelope_size=max_size,
        operation_timeout_s=parse_duration(timeout) if timeout else None,
        selectors=selectors,
        options=options,
        body=body,
        is_fault=body is not None and body.tag == _FAULT,
    )

"""Bodies of the WinRS/PSRP shell operations: Create, Command, Send, Receive, Signal.

Each operation has a builder (the side that sends it) and a parser (the side that
receives it), so client and simfleet speak from one definition.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

import pybase64

from psfleet.errors import ProtocolError
from psfleet.wsman import names

_S = f"{{{names.NS_SHELL}}}"
_PS = f"{{{names.NS_POWERSHELL}}}"
_ADDR = f"{{{names.NS_ADDRESSING}}}"
_WSMAN = f"{{{names.NS_WSMAN}}}"
_TRANSFER = f"{{{names.NS_TRANSFER}}}"


def _b64(data: bytes) -> str:
    return pybase64.b64encode(data).decode("ascii")


def _unb64(text: str | None) -> bytes:
    if not text:
        return b""
    try:
        return pybase64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("stream data is not valid base64") from exc


def _require(element: ET.Element | None, what: str) -> ET.Element:
    if element is None:
        raise ProtocolError(f"expected {what} in the message body")
    return element


# --- Create -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateShell:
    shell_id: str | None
    input_streams: str
    output_streams: str
    creation_xml: bytes | None


def build_create(
    *,
    input_streams: str = "stdin pr",
    output_streams: str = "stdout",
    shell_id: str | None = None,
    creation_xml: bytes | None = None,
    working_directory: str | None = None,
) -> str:
    attr = f" ShellId={quoteattr(shell_id)}" if shell_id else ""
    parts = [f"<rsp:Shell{attr}>"]
    if working_directory:
        parts.append(f"<rsp:WorkingDirectory>{escape(working_directory)}</rsp:WorkingDirectory>")
    parts.append(f"<rsp:InputStreams>{input_streams}</rsp:InputStreams>")
    parts.append(f"<rsp:OutputStreams>{output_streams}</rsp:OutputStreams>")
    if creation_xml is not None:
        parts.append(
            f'<creationXml xmlns="{names.NS_POWERSHELL}">{_b64(creation_xml)}</creationXml>'
        )
    parts.append("</rsp:Shell>")
    return "".join(parts)


def parse_create(body: ET.Element | None) -> CreateShell:
    shell = _require(body, "rsp:Shell")
    if shell.tag != f"{_S}Shell":
        raise ProtocolError(f"expected rsp:Shell, got {shell.tag}")
    creation = shell.find(f"{_PS}creationXml")
    return CreateShell(
        shell_id=shell.get("ShellId"),
        input_streams=(shell.findtext(f"{_S}InputStreams") or "stdin").strip(),
        output_streams=(shell.findtext(f"{_S}OutputStreams") or "stdout").strip(),
        creation_xml=_unb64(creation.text) if creation is not None else None,
    )


def build_create_response(
    *,
    shell_id: str,
    resource_uri: str,
    address: str,
    owner: str,
    client_ip: str,
    input_streams: str,
    output_streams: str,
) -> str:
    return (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f'<rsp:Shell xmlns:rsp="{names.NS_SHELL}"><rsp:ShellId>{shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner><rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{input_streams}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{output_streams}</rsp:OutputStreams>"
        "<rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut><rsp:Locale>en-US</rsp:Locale>"
        "<rsp:DataLocale>en-US</rsp:DataLocale><rsp:CompressionMode>NoCompression"
        "</rsp:CompressionMode><rsp:ProfileLoaded>Yes</rsp:ProfileLoaded>"
        "<rsp:Encoding>UTF8</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode>"
        "<rsp:State>Connected</rsp:State><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )


def parse_create_response(body: ET.Element | None) -> str:
    """The ShellId the server assigned (or accepted)."""
    created = _require(body, "x:ResourceCreated")
    for selector in created.iter(f"{_WSMAN}Selector"):
        if selector.get("Name") == "ShellId" and selector.text:
            return selector.text.strip()
    raise ProtocolError("CreateResponse without a ShellId")


# --- Command ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandLine:
    command_id: str | None
    command: str
    arguments: tuple[str, ...]


def build_command(command_id: str | None, command: str, arguments: Sequence[str]) -> str:
    attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
    args = "".join(f"<rsp:Arguments>{escape(a)}</rsp:Arguments>" for a in arguments)
    return (
        f"<rsp:CommandLine{attr}><rsp:Command>{escape(command)}</rsp:Command>"
        f"{args}</rsp:CommandLine>"
    )


def parse_command(body: ET.Element | None) -> CommandLine:
    line = _require(body, "rsp:CommandLine")
    if line.tag != f"{_S}CommandLine":
        raise ProtocolError(f"expected rsp:CommandLine, got {line.tag}")
    return CommandLine(
        command_id=line.get("CommandId"),
        command=(line.findtext(f"{_S}Command") or "").strip(),
        arguments=tuple((a.text or "") for a in line.findall(f"{_S}Arguments")),
    )


def build_command_response(command_id: str) -> str:
    return f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"


def parse_command_response(body: ET.Element | None) -> str:
    text = _require(body, "rsp:CommandResponse").findtext(f"{_S}CommandId")
    if not text:
        raise ProtocolError("CommandResponse without a CommandId")
    return text.strip()


# --- Send / Receive streams -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamChunk:
    name: str
    command_id: str | None
    data: bytes
    end: bool = False
    text: str | None = None  # the base64 of data, when the sender has it already


def _stream_xml(chunk: StreamChunk) -> str:
    attrs = f"Name={quoteattr(chunk.name)}"
    if chunk.command_id:
        attrs += f" CommandId={quoteattr(chunk.command_id)}"
    if chunk.end:
        attrs += ' End="true"'
    text = chunk.text if chunk.text is not None else _b64(chunk.data)
    return f"<rsp:Stream {attrs}>{text}</rsp:Stream>"


def _parse_streams(parent: ET.Element) -> list[StreamChunk]:
    return [
        StreamChunk(
            name=s.get("Name", ""),
            command_id=s.get("CommandId"),
            data=_unb64(s.text),
            end=s.get("End", "").lower() == "true",
        )
        for s in parent.findall(f"{_S}Stream")
    ]


def build_send(chunks: Sequence[StreamChunk]) -> str:
    return "<rsp:Send>" + "".join(_stream_xml(c) for c in chunks) + "</rsp:Send>"


def parse_send(body: ET.Element | None) -> list[StreamChunk]:
    return _parse_streams(_require(body, "rsp:Send"))


@dataclass(frozen=True, slots=True)
class ReceiveRequest:
    streams: tuple[str, ...]
    command_id: str | None


def build_receive(streams: str = "stdout", command_id: str | None = None) -> str:
    attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
    return f"<rsp:Receive><rsp:DesiredStream{attr}>{streams}</rsp:DesiredStream></rsp:Receive>"


def parse_receive(body: ET.Element | None) -> ReceiveRequest:
    desired = _require(body, "rsp:Receive").find(f"{_S}DesiredStream")
    if desired is None:
        return ReceiveRequest(streams=("stdout",), command_id=None)
    return ReceiveRequest(
        streams=tuple((desired.text or "stdout").split()), command_id=desired.get("CommandId")
    )


@dataclass(frozen=True, slots=True)
class CommandState:
    command_id: str | None
    state: str
    exit_code: int | None = None

    @property
    def done(self) -> bool:
        return self.state == names.COMMAND_STATE_DONE


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    chunks: list[StreamChunk]
    state: CommandState | None


def build_receive_response(chunks: Sequence[StreamChunk], state: CommandState | None) -> str:
    parts = ["<rsp:ReceiveResponse>"]
    parts.extend(_stream_xml(c) for c in chunks)
    if state is not None:
        attr = f" CommandId={quoteattr(state.command_id)}" if state.command_id else ""
        parts.append(f"<rsp:CommandState{attr} State={quoteattr(state.state)}>")
        if state.exit_code is not None:
            parts.append(f"<rsp:ExitCode>{state.exit_code}</rsp:ExitCode>")
        parts.append("</rsp:CommandState>")
    parts.append("</rsp:ReceiveResponse>")
    return "".join(parts)


def parse_receive_response(body: ET.Element | None) -> ReceiveResult:
    response = _require(body, "rsp:ReceiveResponse")
    state_el = response.find(f"{_S}CommandState")
    state: CommandState | None = None
    if state_el is not None:
        exit_text = state_el.findtext(f"{_S}ExitCode")
        state = CommandState(
            command_id=state_el.get("CommandId"),
            state=state_el.get("State", ""),
            exit_code=int(exit_text)
            if exit_text and exit_text.strip().lstrip("-").isdigit()
            else None,
        )
    return ReceiveResult(chunks=_parse_streams(response), state=state)


# --- Signal -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignalRequest:
    command_id: str | None
    code: str


def build_signal(command_id: str | None, code: str) -> str:
    attr = f" CommandId={quoteattr(command_id)}" if command_id else ""
    return f"<rsp:Signal{attr}><rsp:Code>{escape(code)}</rsp:Code></rsp:Signal>"


def parse_signal(body: ET.Element | None) -> SignalRequest:
    signal = _require(body, "rsp:Signal")
    return SignalRequest(
        command_id=signal.get("CommandId"), code=(signal.findtext(f"{_S}Code") or "").strip()
    )


SEND_RESPONSE = "<rsp:SendResponse/>"
SIGNAL_RESPONSE = "<rsp:SignalResponse/>"

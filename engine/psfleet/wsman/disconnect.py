"""Bodies of the disconnected-session operations: Disconnect, Reconnect, Connect, and
the Enumerate of shells (MS-WSMV 3.1.4.16-18; what `Disconnect-PSSession`,
`Connect-PSSession` and `Get-PSSession -ComputerName` send).

Shapes as Windows Server exchanges them (pypsrp's recorded `test_psrp_disconnect_runspaces`
and `test_psrp_disconnected_commands`):

- Disconnect: `<rsp:Disconnect/>`, optionally with `<rsp:IdleTimeOut>` (how long the host
  keeps the disconnected shell); the answer's body is empty.
- Reconnect (the client that disconnected comes back): an empty body, an empty answer.
- Connect (another client, or the same after a restart, attaches): for the pool,
  `<rsp:Connect><connectXml>` carrying PSRP SESSION_CAPABILITY + CONNECT_RUNSPACEPOOL,
  answered by `<rsp:ConnectResponse>` with the streams and `<connectResponseXml>`
  (SESSION_CAPABILITY + RUNSPACEPOOL_INIT_DATA); for a command, `<rsp:Connect
  CommandId="..."/>` answered by an empty `<rsp:ConnectResponse/>`, after which Receive
  names the command.
- Enumerate of shells: each `<rsp:Shell>` with its ShellId, State (Connected,
  Disconnected), IdleTimeOut and more; filtered by a ShellId selector it lists the
  shell's commands.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

from psfleet.errors import ProtocolError
from psfleet.wsman import names
from psfleet.wsman.envelope import parse_duration

NS_ENUMERATION = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
ACTION_DISCONNECT = f"{names.NS_SHELL}/Disconnect"
ACTION_RECONNECT = f"{names.NS_SHELL}/Reconnect"
ACTION_CONNECT = f"{names.NS_SHELL}/Connect"
ACTION_ENUMERATE = f"{NS_ENUMERATION}/Enumerate"

_S = f"{{{names.NS_SHELL}}}"
_PS = f"{{{names.NS_POWERSHELL}}}"
_W = f"{{{names.NS_WSMAN}}}"
_N = f"{{{NS_ENUMERATION}}}"

RECONNECT = ""
EMPTY_RESPONSE = ""  # Disconnect's and Reconnect's answers have an empty body


def duration(seconds: float) -> str:
    """An IdleTimeOut as Windows writes it: PT7200.000S."""
    return f"PT{seconds:.3f}S"


def _seconds(text: str | None) -> float | None:
    return parse_duration(text) if text and text.strip() else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str | None, what: str) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"{what} is not valid base64") from exc


# --- Disconnect -------------------------------------------------------------------------


def build_disconnect(idle_timeout_s: float | None = None) -> str:
    if idle_timeout_s is None:
        return "<rsp:Disconnect/>"
    return (
        f"<rsp:Disconnect><rsp:IdleTimeOut>{duration(idle_timeout_s)}</rsp:IdleTimeOut>"
        "</rsp:Disconnect>"
    )


def parse_disconnect(body: ET.Element | None) -> float | None:
    """The IdleTimeOut the client asked for, in seconds, or None (the host's default)."""
    if body is None or body.tag != f"{_S}Disconnect":
        raise ProtocolError("expected rsp:Disconnect in the message body")
    return _seconds(body.findtext(f"{_S}IdleTimeOut"))


# --- Connect ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    command_id: str | None  # set: attach to this command; None: to the pool
    connect_xml: bytes | None  # the pool's PSRP fragments


def build_connect_pool(connect_xml: bytes) -> str:
    return (
        f'<rsp:Connect><connectXml xmlns="{names.NS_POWERSHELL}">{_b64(connect_xml)}'
        "</connectXml></rsp:Connect>"
    )


def build_connect_command(command_id: str) -> str:
    return f"<rsp:Connect CommandId={quoteattr(command_id)}/>"


def parse_connect(body: ET.Element | None) -> ConnectRequest:
    if body is None or body.tag != f"{_S}Connect":
        raise ProtocolError("expected rsp:Connect in the message body")
    xml = body.find(f"{_PS}connectXml")
    return ConnectRequest(
        command_id=body.get("CommandId"),
        connect_xml=_unb64(xml.text, "connectXml") if xml is not None else None,
    )


def build_connect_pool_response(
    connect_response_xml: bytes, input_streams: str = "stdin pr", output_streams: str = "stdout"
) -> str:
    return (
        f"<rsp:ConnectResponse><rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        f'<connectResponseXml xmlns="{names.NS_POWERSHELL}">{_b64(connect_response_xml)}'
        "</connectResponseXml></rsp:ConnectResponse>"
    )


CONNECT_COMMAND_RESPONSE = "<rsp:ConnectResponse/>"


def parse_connect_response(body: ET.Element | None) -> bytes | None:
    """The pool's connectResponseXml; None for a command's (empty) answer."""
    if body is None or body.tag != f"{_S}ConnectResponse":
        raise ProtocolError("expected rsp:ConnectResponse in the message body")
    xml = body.find(f"{_PS}connectResponseXml")
    return _unb64(xml.text, "connectResponseXml") if xml is not None else None


# --- Enumerate shells -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShellInfo:
    shell_id: str
    resource_uri: str
    state: str  # Connected, Disconnected
    idle_timeout_s: float | None
    owner: str = ""


@dataclass(frozen=True, slots=True)
class CommandInfo:
    command_id: str
    state: str  # Running, Done, Pending


def build_enumerate(shell_id: str | None = None) -> str:
    """Every shell of this user on the resource URI, or (shell_id) that shell's commands."""
    selector = ""
    if shell_id is not None:
        selector = (
            '<wsman:Filter Dialect="http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter">'
            f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{escape(shell_id)}'
            "</wsman:Selector></wsman:SelectorSet></wsman:Filter>"
        )
    return (
        f'<wsen:Enumerate xmlns:wsen="{NS_ENUMERATION}"><wsman:OptimizeEnumeration/>'
        f"<wsman:MaxElements>32000</wsman:MaxElements>{selector}</wsen:Enumerate>"
    )


def parse_enumerate(body: ET.Element | None) -> str | None:
    """The ShellId of the filter, or None to list the shells."""
    if body is None or body.tag != f"{_N}Enumerate":
        raise ProtocolError("expected wsen:Enumerate in the message body")
    for selector in body.iter(f"{_W}Selector"):
        if selector.get("Name") == "ShellId" and selector.text:
            return selector.text.strip()
    return None


def build_enumerate_shells_response(shells: list[ShellInfo]) -> str:
    items = "".join(
        f'<rsp:Shell xmlns:rsp="{names.NS_SHELL}"><rsp:ShellId>{s.shell_id}</rsp:ShellId>'
        f"<rsp:ResourceUri>{escape(s.resource_uri)}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(s.owner)}</rsp:Owner>"
        + (
            f"<rsp:IdleTimeOut>{duration(s.idle_timeout_s)}</rsp:IdleTimeOut>"
            if s.idle_timeout_s is not None
            else ""
        )
        + f"<rsp:BufferMode>Block</rsp:BufferMode><rsp:State>{s.state}</rsp:State></rsp:Shell>"
        for s in shells
    )
    return _enumerate_response(items)


def build_enumerate_commands_response(commands: list[CommandInfo]) -> str:
    items = "".join(
        f'<rsp:Command xmlns:rsp="{names.NS_SHELL}"><rsp:CommandId>{c.command_id}</rsp:CommandId>'
        f"<rsp:CommandLine></rsp:CommandLine><rsp:CommandState>{c.state}</rsp:CommandState>"
        "</rsp:Command>"
        for c in commands
    )
    return _enumerate_response(items)


def _enumerate_response(items: str) -> str:
    # Windows answers an optimized enumeration whole: the items and EndOfSequence at once.
    listed = f"<w:Items>{items}</w:Items>" if items else ""
    return (
        f'<n:EnumerateResponse xmlns:n="{NS_ENUMERATION}"><n:EnumerationContext>'
        f"</n:EnumerationContext>{listed}<w:EndOfSequence/></n:EnumerateResponse>"
    )


def parse_enumerate_shells(body: ET.Element | None) -> list[ShellInfo]:
    return [
        ShellInfo(
            shell_id=(shell.findtext(f"{_S}ShellId") or "").strip(),
            resource_uri=(shell.findtext(f"{_S}ResourceUri") or "").strip(),
            state=(shell.findtext(f"{_S}State") or "").strip(),
            idle_timeout_s=_seconds(shell.findtext(f"{_S}IdleTimeOut")),
            owner=(shell.findtext(f"{_S}Owner") or "").strip(),
        )
        for shell in _items(body).findall(f"{_S}Shell")
    ]


def parse_enumerate_commands(body: ET.Element | None) -> list[CommandInfo]:
    return [
        CommandInfo(
            command_id=(command.findtext(f"{_S}CommandId") or "").strip(),
            state=(command.findtext(f"{_S}CommandState") or "").strip(),
        )
        for command in _items(body).findall(f"{_S}Command")
    ]


def _items(body: ET.Element | None) -> ET.Element:
    if body is None or body.tag != f"{_N}EnumerateResponse":
        raise ProtocolError("expected n:EnumerateResponse in the message body")
    items = body.find(f"{_W}Items")
    return items if items is not None else ET.Element("empty")

"""Disconnect, Reconnect, Connect and Enumerate bodies: built here, parsed back, and parsed
from bodies shaped as Windows Server sends them (pypsrp's recorded disconnect exchanges)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest

from psfleet import errors
from psfleet.wsman import build_request, build_response, names, parse_envelope
from psfleet.wsman import disconnect as d

SHELL = "B6631D8E-65A0-49F2-9053-A1B156C95777"
COMMAND = "DB4E8DCF-51CC-423F-A7DF-5D0EA0D6FA08"


def request_body(action: str, body: str) -> ET.Element | None:
    data, _ = build_request(
        action=action,
        to="http://127.27.0.1:5985/wsman",
        resource_uri=names.RESOURCE_POWERSHELL,
        body=body,
        selectors={"ShellId": SHELL},
    )
    return parse_envelope(data).body


def response_body(action: str, body: str) -> ET.Element | None:
    return parse_envelope(build_response(action=action, relates_to="uuid:X", body=body)).body


def test_disconnect_carries_the_idle_timeout_the_client_asks_for() -> None:
    assert d.build_disconnect() == "<rsp:Disconnect/>"
    assert d.parse_disconnect(request_body(d.ACTION_DISCONNECT, d.build_disconnect())) is None
    body = request_body(d.ACTION_DISCONNECT, d.build_disconnect(60))
    assert d.parse_disconnect(body) == 60.0
    assert "<rsp:IdleTimeOut>PT60.000S</rsp:IdleTimeOut>" in d.build_disconnect(60)


def test_a_pool_connect_round_trips_its_psrp_fragments() -> None:
    body = request_body(d.ACTION_CONNECT, d.build_connect_pool(b"\x00fragments"))
    assert d.parse_connect(body) == d.ConnectRequest(command_id=None, connect_xml=b"\x00fragments")
    answer = response_body(f"{d.ACTION_CONNECT}Response", d.build_connect_pool_response(b"init"))
    assert d.parse_connect_response(answer) == b"init"


def test_a_command_connect_names_the_command_and_its_answer_is_empty() -> None:
    body = request_body(d.ACTION_CONNECT, d.build_connect_command(COMMAND))
    assert d.parse_connect(body) == d.ConnectRequest(command_id=COMMAND, connect_xml=None)
    answer = response_body(f"{d.ACTION_CONNECT}Response", d.CONNECT_COMMAND_RESPONSE)
    assert d.parse_connect_response(answer) is None


def test_windows_connect_response_parses() -> None:
    windows = (
        "<rsp:ConnectResponse><rsp:InputStreams>stdin pr</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout</rsp:OutputStreams>"
        '<connectResponseXml xmlns="http://schemas.microsoft.com/powershell">AAEC'
        "</connectResponseXml></rsp:ConnectResponse>"
    )
    answer = response_body(f"{d.ACTION_CONNECT}Response", windows)
    assert d.parse_connect_response(answer) == b"\x00\x01\x02"


def test_windows_enumerate_of_shells_parses_state_and_idle_timeout() -> None:
    windows = (
        '<n:EnumerateResponse xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration">'
        "<n:EnumerationContext></n:EnumerationContext><w:Items>"
        f'<rsp:Shell xmlns:rsp="{names.NS_SHELL}"><rsp:ShellId>{SHELL}</rsp:ShellId>'
        f"<rsp:ResourceUri>{names.RESOURCE_POWERSHELL}</rsp:ResourceUri>"
        "<rsp:Owner>WIN-NNMU24VVKJ0\\vagrant</rsp:Owner><rsp:ClientIP>10.0.2.2</rsp:ClientIP>"
        "<rsp:ProcessId>2792</rsp:ProcessId><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
        "<rsp:InputStreams>stdin pr</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>"
        "<rsp:MaxIdleTimeOut>PT2147483.647S</rsp:MaxIdleTimeOut><rsp:Locale>en-US</rsp:Locale>"
        "<rsp:DataLocale>en-US</rsp:DataLocale><rsp:CompressionMode>XpressCompression"
        "</rsp:CompressionMode><rsp:ProfileLoaded>Yes</rsp:ProfileLoaded><rsp:Encoding>UTF8"
        "</rsp:Encoding><rsp:BufferMode>Block</rsp:BufferMode><rsp:State>Disconnected</rsp:State>"
        "<rsp:ShellRunTime>P0DT0H0M2S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S"
        "</rsp:ShellInactivity></rsp:Shell></w:Items><w:EndOfSequence/></n:EnumerateResponse>"
    )
    [shell] = d.parse_enumerate_shells(response_body("x", windows))
    assert shell == d.ShellInfo(
        SHELL, names.RESOURCE_POWERSHELL, "Disconnected", 7200.0, "WIN-NNMU24VVKJ0\\vagrant"
    )


def test_enumerate_round_trips_shells_and_a_shells_commands() -> None:
    assert d.parse_enumerate(request_body(d.ACTION_ENUMERATE, d.build_enumerate())) is None
    filtered = request_body(d.ACTION_ENUMERATE, d.build_enumerate(SHELL))
    assert d.parse_enumerate(filtered) == SHELL
    shells = [d.ShellInfo(SHELL, names.RESOURCE_POWERSHELL, "Disconnected", 60.0, "LAB\\admin")]
    answer = response_body("x", d.build_enumerate_shells_response(shells))
    assert d.parse_enumerate_shells(answer) == shells
    commands = [d.CommandInfo(COMMAND, "Running")]
    answer = response_body("x", d.build_enumerate_commands_response(commands))
    assert d.parse_enumerate_commands(answer) == commands
    assert d.parse_enumerate_shells(response_body("x", d.build_enumerate_shells_response([]))) == []


@pytest.mark.parametrize(
    "parse", [d.parse_disconnect, d.parse_connect, d.parse_connect_response, d.parse_enumerate]
)
def test_a_body_of_another_operation_is_a_protocol_error(parse: object) -> None:
    body = request_body(names.ACTION_RECEIVE, "<rsp:Receive/>")
    with pytest.raises(errors.ProtocolError):
        parse(body)  # type: ignore[operator]


def test_connect_xml_that_is_not_base64_is_a_protocol_error() -> None:
    body = request_body(
        d.ACTION_CONNECT,
        f'<rsp:Connect><connectXml xmlns="{names.NS_POWERSHELL}">!!</connectXml></rsp:Connect>',
    )
    with pytest.raises(errors.ProtocolError, match="connectXml"):
        d.parse_connect(body)

"""Requests and responses built here parse back to what was put in; bad XML is a ProtocolError."""

import uuid

import pytest

from psfleet import errors
from psfleet.wsman import build_request, build_response, names, parse_envelope, shell
from psfleet.wsman.envelope import (
    format_duration,
    new_message_id,
    parse_duration,
    request_template,
)
from psfleet.wsman.identify import (
    IDENTIFY_REQUEST,
    build_identify_response,
    is_identify,
    parse_identify_response,
)


def test_request_round_trips_headers_selectors_and_options() -> None:
    data, message_id = build_request(
        action=names.ACTION_RECEIVE,
        to="http://127.1.0.1:5985/wsman",
        resource_uri=names.RESOURCE_POWERSHELL,
        body=shell.build_receive("stdout", "CMD-1"),
        selectors={"ShellId": "SHELL-1"},
        options={"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"},
        max_envelope_size=512000,
        operation_timeout_s=20,
        session_id="uuid:S",
    )
    envelope = parse_envelope(data)
    assert envelope.action == names.ACTION_RECEIVE
    assert envelope.message_id == message_id
    assert envelope.selectors == {"ShellId": "SHELL-1"}
    assert envelope.options == {"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"}
    assert envelope.max_envelope_size == 512000
    assert envelope.operation_timeout_s == 20
    assert shell.parse_receive(envelope.body) == shell.ReceiveRequest(("stdout",), "CMD-1")


def test_a_template_builds_what_build_request_builds_with_only_the_message_id_new() -> None:
    headers = {
        "action": names.ACTION_RECEIVE,
        "to": "http://127.1.0.1:5985/wsman",
        "resource_uri": names.RESOURCE_POWERSHELL,
        "selectors": {"ShellId": "SHELL-1"},
        "options": {"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"},
        "max_envelope_size": 512000,
    }
    body = shell.build_receive("stdout", "CMD-1")
    template = request_template(**headers)
    first, first_id = template.build(body)
    second, second_id = template.build(body)
    assert first_id != second_id
    assert second.replace(second_id.encode(), first_id.encode()) == first
    assert build_request(body=body, message_id=first_id, **headers) == (first, first_id)
    envelope = parse_envelope(second)
    assert (envelope.message_id, envelope.selectors) == (second_id, {"ShellId": "SHELL-1"})


def test_values_are_escaped() -> None:
    data, _ = build_request(
        action=names.ACTION_COMMAND,
        to="http://h/wsman",
        resource_uri=names.RESOURCE_CMD,
        body=shell.build_command(None, "cmd.exe", ["/c echo a && echo <b>"]),
    )
    line = shell.parse_command(parse_envelope(data).body)
    assert line.arguments == ("/c echo a && echo <b>",)


def test_receive_response_round_trip() -> None:
    chunks = [
        shell.StreamChunk("stdout", "C", b"\x00\x01binary"),
        shell.StreamChunk("stdout", "C", b"", end=True),
    ]
    state = shell.CommandState("C", names.COMMAND_STATE_DONE, exit_code=3)
    data = build_response(
        action=names.response_action(names.ACTION_RECEIVE),
        relates_to="uuid:X",
        body=shell.build_receive_response(chunks, state),
    )
    result = shell.parse_receive_response(parse_envelope(data).body)
    assert result.chunks == chunks
    assert result.state == state


def test_create_round_trip_keeps_client_chosen_shell_id_and_creation_xml() -> None:
    body = shell.build_create(shell_id="ABC", creation_xml=b"\x00fragments")
    data, _ = build_request(
        action=names.ACTION_CREATE, to="t", resource_uri=names.RESOURCE_POWERSHELL, body=body
    )
    created = shell.parse_create(parse_envelope(data).body)
    assert created.shell_id == "ABC"
    assert created.creation_xml == b"\x00fragments"
    assert created.input_streams == "stdin pr"


def test_identify_round_trip() -> None:
    assert is_identify(parse_envelope(IDENTIFY_REQUEST).body)
    result = parse_identify_response(
        parse_envelope(build_identify_response("OS: 10.0.14393 SP: 0.0 Stack: 3.0")).body
    )
    assert result.product_vendor == "Microsoft Corporation"
    assert result.product_version.endswith("Stack: 3.0")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<not-closed",
        b"<a>no soap</a>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>',
        b"<!--" + b"x" * 8192 + b'--><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<?xml version="1.0"?><!doctype x [<!entity a "aaaa">]><x>&a;</x>',
    ],
)
def test_malformed_input_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        parse_envelope(data)


_BAD_BASE64_RECEIVE = (
    '<rsp:ReceiveResponse><rsp:Stream Name="stdout">!!!</rsp:Stream></rsp:ReceiveResponse>'
)


def test_bad_base64_stream_is_a_protocol_error() -> None:
    data = build_response(
        action="a",
        relates_to="r",
        body=_BAD_BASE64_RECEIVE,
    )
    with pytest.raises(errors.ProtocolError):
        shell.parse_receive_response(parse_envelope(data).body)


@pytest.mark.parametrize(("seconds", "text"), [(20, "PT20S"), (0.5, "PT0.500S")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


def test_message_ids_are_distinct_version_4_uuids_in_windows_form() -> None:
    ids = [new_message_id() for _ in range(500)]
    assert len(set(ids)) == len(ids)
    for message_id in ids:
        assert message_id.startswith("uuid:")
        parsed = uuid.UUID(message_id.removeprefix("uuid:"))
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed).upper() == message_id.removeprefix("uuid:")

"""The long Stream text is parsed around, never misread: the tree is the whole parse's."""

import os
from xml.etree import ElementTree as ET

import pytest

from psfleet import errors
from psfleet.wsman import build_request, names, parse_envelope, shell, stream_text
from psfleet.wsman.envelope import parse_xml

LONG = stream_text.MIN_LIFTED * 2


def _send(data: bytes) -> bytes:
    message, _ = build_request(
        action=names.ACTION_SEND,
        to="http://127.39.0.1:5985/wsman",
        resource_uri=names.RESOURCE_POWERSHELL,
        body=shell.build_send([shell.StreamChunk("stdin", "CMD-1", data, end=True)]),
        selectors={"ShellId": "SHELL-1"},
    )
    return message


def _document(stream_content: bytes, stream_attrs: bytes = b' Name="stdin"') -> bytes:
    return (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
        b"<s:Body><rsp:Send><rsp:Stream" + stream_attrs + b">" + stream_content
        + b"</rsp:Stream></rsp:Send></s:Body></s:Envelope>"
    )  # fmt: skip


def _same_tree(a: ET.Element, b: ET.Element) -> bool:
    return ET.tostring(a) == ET.tostring(b)


def test_a_send_is_parsed_around_its_stream_text_and_reads_back_the_same_chunk() -> None:
    data = os.urandom(LONG)
    message = _send(data)
    assert stream_text.lift(message) is not None  # the fast path is the one under test
    [chunk] = shell.parse_send(parse_envelope(message).body)
    assert (chunk.name, chunk.command_id, chunk.data, chunk.end) == ("stdin", "CMD-1", data, True)
    assert _same_tree(parse_xml(message), ET.fromstring(message))


def test_short_texts_take_the_generic_path() -> None:
    assert stream_text.lift(_send(b"x" * 100)) is None


@pytest.mark.parametrize(
    ("content", "attrs"),
    [
        (b"A" * LONG + b"<!-- a comment joins the text -->BB", b""),
        (b"A" * LONG + b"<![CDATA[more text]]>", b""),
        (b"A" * LONG + b"&#65;", b""),
        (b"A" * LONG + b"\r\nA", b""),
        (b"A" * LONG, b' Name="a>b"'),
        (b"A" * LONG + b"psfleet-lifted-stream-text", b""),
        ("A" * LONG + "é", b""),
    ],
    ids=["comment", "cdata", "reference", "carriage-return", "gt-in-attribute", "marker", "utf8"],
)
def test_text_that_is_not_plain_character_data_parses_as_the_whole_document(
    content: bytes | str, attrs: bytes
) -> None:
    raw = _document(content.encode() if isinstance(content, str) else content, attrs)
    assert _same_tree(parse_xml(raw), ET.fromstring(raw))


def test_a_dtd_beside_a_lifted_text_is_still_refused() -> None:
    raw = b'<!DOCTYPE x [<!ENTITY e "boom">]>' + _document(b"A" * LONG)
    assert stream_text.lift(raw) is not None
    with pytest.raises(errors.ProtocolError, match="DTD"):
        parse_xml(raw)


def test_malformed_xml_around_a_lifted_text_is_a_protocol_error() -> None:
    raw = _document(b"A" * LONG).replace(b"</rsp:Send>", b"")
    with pytest.raises(errors.ProtocolError, match="malformed XML"):
        parse_xml(raw)

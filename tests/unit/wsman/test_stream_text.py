"""The long Stream text is parsed around, never misread: the tree is the whole parse's."""

import os
from xml.etree import ElementTree as ET

import pytest

from psfleet import errors
from psfleet.wsman import build_request, names, parse_envelope, shell, stream_text
from psfleet.wsman.envelope import parse_xml

LONG = stream_text.MIN_LIFTED * 2
# Elements whose text is the fast path's marker, as it is and through a reference: a
# miscounted position would land on one of them and put the text there.
MARKERS_BEFORE = b"<x>psfleet-lifted-stream-text</x><y>&#112;sfleet-lifted-stream-text</y>"
MARKERS_AFTER = b"<q>psfleet-lifted-stream-text</q>" * 4


def _send(data: bytes) -> bytes:
    message, _ = build_request(
        action=names.ACTION_SEND,
        to="http://127.39.0.1:5985/wsman",
        resource_uri=names.RESOURCE_POWERSHELL,
        body=shell.build_send([shell.StreamChunk("stdin", "CMD-1", data, end=True)]),
        selectors={"ShellId": "SHELL-1"},
    )
    return message


def _document(
    stream_content: bytes,
    stream_attrs: bytes = b' Name="stdin"',
    before: bytes = b"",
    after: bytes = b"",
) -> bytes:
    return (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
        b"<s:Body>" + before + b"<rsp:Send><rsp:Stream" + stream_attrs + b">" + stream_content
        + b"</rsp:Stream>" + after + b"</rsp:Send></s:Body></s:Envelope>"
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
    ("content", "attrs", "before"),
    [
        (b"A" * LONG + b"<!-- a comment joins the text -->BB", b"", b""),
        (b"A" * LONG + b"<![CDATA[more text]]>", b"", b""),
        (b"A" * LONG + b"&#65;", b"", b""),
        (b"A" * LONG + b"\r\nA", b"", b""),
        (b"A" * LONG, b' Name="a>b"', b""),
        (b"A" * LONG + b"psfleet-lifted-stream-text", b"", b""),
        ("A" * LONG + "é", b"", b""),
        (b"A" * LONG, b"", MARKERS_BEFORE),
        (b"A" * LONG, b"", b"<!-- <rsp:Stream> --><?pi <x>?><e/><![CDATA[<z>]]>"),
    ],
    ids=[
        "comment-after", "cdata-after", "reference", "carriage-return", "gt-in-attribute",
        "marker-in-text", "utf8", "marker-before", "markup-before",
    ],
)  # fmt: skip
def test_text_that_is_not_plain_character_data_parses_as_the_whole_document(
    content: bytes | str, attrs: bytes, before: bytes
) -> None:
    raw = _document(content.encode() if isinstance(content, str) else content, attrs, before)
    assert _same_tree(parse_xml(raw), ET.fromstring(raw))


@pytest.mark.parametrize(
    ("declaration", "before"),
    [
        (b"", b""),
        (b"", MARKERS_BEFORE),
        (b'<?xml version="1.0" encoding="utf-8"?>\n', b'<a b="1"/><c/>'),
    ],
    ids=["alone", "markers-before", "declaration-and-empty-elements"],
)
def test_the_text_goes_back_to_its_own_element_by_position(
    declaration: bytes, before: bytes
) -> None:
    raw = declaration + _document(b"A" * LONG, before=before, after=MARKERS_AFTER)
    lifted = stream_text.lift(raw)
    assert lifted is not None
    root = ET.fromstring(lifted.skeleton)
    assert lifted.restore(root)  # the fast path applied
    assert _same_tree(root, ET.fromstring(raw))


@pytest.mark.parametrize(
    "before",
    [b"<!-- <x> <y> --><e/>", b"<![CDATA[<x>]]>", b"<?pi <x> <y>?><e/>"],
    ids=["comment", "cdata", "processing-instruction"],
)
def test_markup_that_may_hide_a_less_than_before_the_stream_takes_the_whole_parse(
    before: bytes,
) -> None:
    raw = _document(b"A" * LONG, before=before, after=MARKERS_AFTER)
    assert stream_text.lift(raw) is None
    assert _same_tree(parse_xml(raw), ET.fromstring(raw))


def test_a_dtd_beside_a_lifted_text_is_still_refused() -> None:
    raw = _document(b"A" * LONG).replace(b"</rsp:Send>", b'</rsp:Send><!ENTITY e "boom">')
    assert stream_text.lift(raw) is not None
    with pytest.raises(errors.ProtocolError, match="DTD"):
        parse_xml(raw)


def test_malformed_xml_around_a_lifted_text_is_a_protocol_error() -> None:
    raw = _document(b"A" * LONG).replace(b"</rsp:Send>", b"")
    with pytest.raises(errors.ProtocolError, match="malformed XML"):
        parse_xml(raw)


def test_a_str_with_a_declared_encoding_parses_as_the_whole_document() -> None:
    text = '<?xml version="1.0" encoding="ISO-8859-1"?>' + _document(
        b"A" * LONG, before=b'<a x="\xc3\xa9"/>'
    ).decode("utf-8")
    assert _same_tree(parse_xml(text), ET.fromstring(text))

"""The CLIXML reader gives plain Python for what PowerShell serializes, and refuses garbage."""

from __future__ import annotations

import datetime
import decimal
import uuid

import pytest

from psfleet import errors
from psfleet.session import clixml
from psfleet.session.convert import PSObjectView, SecureString


@pytest.mark.parametrize(
    ("xml", "value"),
    [
        ("<S>plain</S>", "plain"),
        ("<S>QUJD+/8=</S>", "QUJD+/8="),  # base64 alone: read without the XML parser
        ("<S>QU&amp;JD</S>", "QU&JD"),  # anything else: with it
        ("<S>QU JD\n</S>", "QU JD\n"),
        ("<S></S>", ""),
        ("<S />", ""),
        ("<S>a_x000A_b_x005F_x000A_</S>", "a\nb_x000A_"),
        ("<S>_xD801__xDC37_</S>", "\U00010437"),  # an escaped surrogate pair
        ("<I32>-5</I32>", -5),
        ("<U64>18446744073709551615</U64>", 18446744073709551615),
        ("<B>true</B>", True),
        ("<B>false</B>", False),
        ("<Db>1.5</Db>", 1.5),
        ("<Db>INF</Db>", float("inf")),
        ("<D>1.10</D>", decimal.Decimal("1.10")),
        ("<C>65</C>", "A"),
        ("<BA>AQI=</BA>", b"\x01\x02"),
        (
            "<G>8a7b2c1d-0000-4000-8000-000000000001</G>",
            uuid.UUID("8a7b2c1d-0000-4000-8000-000000000001"),
        ),
        ("<Version>10.0.14393</Version>", "10.0.14393"),
        ("<Nil />", None),
        ("<TS>PT1H2M3.5S</TS>", datetime.timedelta(hours=1, minutes=2, seconds=3.5)),
        ("<TS>-P1DT1S</TS>", -datetime.timedelta(days=1, seconds=1)),
    ],
)
def test_primitives(xml: str, value: object) -> None:
    assert clixml.read(xml.encode()) == value


def test_datetime_keeps_microseconds_and_offset() -> None:
    value = clixml.read(b"<DT>2020-01-02T03:04:05.1234567+01:00</DT>")
    assert value == datetime.datetime(
        2020, 1, 2, 3, 4, 5, 123456, datetime.timezone(datetime.timedelta(hours=1))
    )
    assert clixml.read(b"<DT>2020-01-02T03:04:05Z</DT>").tzinfo == datetime.UTC


def test_lists_dicts_and_shared_references() -> None:
    xml = (
        b'<Obj RefId="0"><TN RefId="0"><T>System.Collections.Hashtable</T></TN><DCT>'
        b'<En><S N="Key">a</S><Obj N="Value" RefId="1"><TN RefId="1"><T>System.Object[]</T></TN>'
        b"<LST><I32>1</I32><S>two</S></LST></Obj></En>"
        b'<En><S N="Key">b</S><Ref N="Value" RefId="1" /></En></DCT></Obj>'
    )
    value = clixml.read(xml)
    assert value == {"a": [1, "two"], "b": [1, "two"]}
    assert value["a"] is value["b"]


def test_object_keeps_type_names_properties_and_to_string() -> None:
    xml = (
        b'<Obj RefId="0"><TN RefId="0"><T>System.IO.FileInfo</T><T>System.Object</T></TN>'
        b'<ToString>C:\\a.txt</ToString><Props><I64 N="Length">42</I64></Props>'
        b'<MS><S N="PSComputerName">node01</S></MS></Obj>'
    )
    value = clixml.read(xml)
    assert isinstance(value, PSObjectView)
    assert value.type_name == "System.IO.FileInfo"
    assert str(value) == "C:\\a.txt"
    assert value.adapted == {"Length": 42}
    assert value.extended == {"PSComputerName": "node01"}
    assert value["length"] == value.Length == 42
    assert value.get("missing") is None
    with pytest.raises(AttributeError):
        _ = value.missing


def test_enum_is_a_view_with_its_value_and_name() -> None:
    xml = (
        b'<Obj RefId="0"><TN RefId="0"><T>System.ServiceProcess.ServiceControllerStatus</T>'
        b"<T>System.Enum</T></TN><ToString>Running</ToString><I32>4</I32></Obj>"
    )
    value = clixml.read(xml)
    assert isinstance(value, PSObjectView)
    assert (value.value, str(value)) == (4, "Running")


def test_decorated_primitive_stays_a_primitive() -> None:
    xml = b'<Obj RefId="0"><S>line 1</S><MS><S N="PSPath">C:\\f.txt</S></MS></Obj>'
    assert clixml.read(xml) == "line 1"


def test_type_names_are_shared_by_reference() -> None:
    xml = (
        b'<Obj RefId="0"><TN RefId="0"><T>A.B</T></TN><MS><Obj N="x" RefId="1"><TNRef RefId="0" />'
        b'<MS><I32 N="y">1</I32></MS></Obj></MS></Obj>'
    )
    assert clixml.read(xml)["x"].type_names == ("Deserialized.A.B",)


def test_secure_string_never_shows_its_value() -> None:
    value = clixml.read(b"<SS>c2VjcmV0</SS>")
    assert isinstance(value, SecureString)
    assert "c2Vj" not in repr(value) and "c2Vj" not in str(value)


@pytest.mark.parametrize(
    "xml",
    [b"<S>unclosed", b"<I32>twelve</I32>", b"<Ref RefId='9' />", b"<Bogus />", b"<TS>1 hour</TS>"],
)
def test_malformed_input_is_a_protocol_error(xml: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        clixml.read(xml)


@pytest.mark.parametrize("xml", [b"<S>QUJD\x01</S>", b"<S>QUJD</S></S>", b"<S>QU<JD</S>"])
def test_a_string_that_is_almost_base64_is_still_checked_as_xml(xml: bytes) -> None:
    with pytest.raises(errors.ProtocolError):
        clixml.read(xml)


def test_hostile_nesting_is_refused() -> None:
    xml = b'<Obj RefId="0"><MS>' * 100 + b"<Nil />" + b"</MS></Obj>" * 100
    with pytest.raises(errors.ProtocolError):
        clixml.read(xml)

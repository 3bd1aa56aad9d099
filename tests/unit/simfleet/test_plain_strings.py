"""A pushed chunk (one whole PipelineInput of <S>base64</S>) reaches the pipeline as the
same PSString psrpcore would give, a fetched chunk is written as psrpcore would write it;
anything else is left to psrpcore."""

from __future__ import annotations

import base64
import os
import uuid
from xml.etree import ElementTree as ET

import psrpcore
import pytest
from psrpcore.types import PSRPMessageType, PSString, deserialize, serialize

from psfleet.session import psrp
from psfleet.simfleet.plain_strings import plain_string_clixml, plain_string_input

POOL, PIPELINE = uuid.uuid4(), uuid.uuid4()


def _payloads(
    data: bytes, limit: int = 1 << 20, kind: int = PSRPMessageType.PipelineInput
) -> list[bytes]:
    return psrp.Fragmenter().payloads([psrp.message(kind, POOL, PIPELINE, data)], limit)


def _psrpcore_reads(data: bytes) -> object:
    return deserialize(ET.fromstring(data), psrpcore.PSRemotingCrypto())


@pytest.mark.parametrize("size", [0, 1, 2, 3, 30_000])
def test_a_base64_string_is_what_psrpcore_would_deserialize(size: int) -> None:
    data = b"<S>" + base64.b64encode(os.urandom(size)) + b"</S>"
    (payload,) = _payloads(data)
    item = plain_string_input(payload, PIPELINE)
    expected = _psrpcore_reads(data)
    assert type(item) is type(expected) is PSString
    assert item == expected


@pytest.mark.parametrize(
    "data",
    [
        b"<S>QU_x0041_JD</S>",  # an escape psrpcore decodes
        b"<S>QU&amp;JD</S>",  # an entity
        b"<S>QU JD</S>",
        b"<I32>5</I32>",
        b'<S N="x">QUJD</S>',
    ],
)
def test_other_clixml_is_left_to_psrpcore(data: bytes) -> None:
    (payload,) = _payloads(data)
    assert plain_string_input(payload, PIPELINE) is None


def test_a_message_in_several_fragments_is_left_to_psrpcore() -> None:
    payloads = _payloads(b"<S>" + b"QUJD" * 1000 + b"</S>", limit=1024)
    assert len(payloads) > 1
    assert all(plain_string_input(p, PIPELINE) is None for p in payloads)


def test_another_pipeline_or_message_type_is_left_to_psrpcore() -> None:
    (payload,) = _payloads(b"<S>QUJD</S>")
    assert plain_string_input(payload, uuid.uuid4()) is None
    (other,) = _payloads(b"<S>QUJD</S>", kind=PSRPMessageType.PipelineHostResponse)
    assert plain_string_input(other, PIPELINE) is None


@pytest.mark.parametrize("size", [3072, 3073, 300_000])
def test_a_long_base64_output_string_is_written_as_psrpcore_writes_it(size: int) -> None:
    value = base64.b64encode(os.urandom(size)).decode()
    expected = ET.tostring(serialize(value, psrpcore.PSRemotingCrypto()), encoding="utf-8")
    assert plain_string_clixml(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "QUJD",  # short: psrpcore's
        "QUJD" * 2000 + "_x0041_",  # psrpcore escapes the _x
        "QUJD" * 2000 + "\n",
        "QUJD" * 2000 + "é",
        PSString("QUJD" * 2000),  # may carry properties: psrpcore's
        b"QUJD" * 2000,
    ],
)
def test_other_output_is_left_to_psrpcore(value: object) -> None:
    assert plain_string_clixml(value) is None

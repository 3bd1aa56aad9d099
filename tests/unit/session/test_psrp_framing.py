"""PSRP messages survive fragmentation both ways, and the cached XML is psrpcore's own."""

from __future__ import annotations

import base64
import os
import uuid
from xml.etree import ElementTree as ET

import psrpcore
import pytest
from psrpcore.types import PSRPMessageType

from psfleet import errors
from psfleet.session import psrp

POOL, PIPELINE = uuid.uuid4(), uuid.uuid4()


def test_large_messages_split_across_payloads_and_join_again() -> None:
    big = psrp.message(
        PSRPMessageType.PipelineInput, POOL, PIPELINE, b"<S>" + b"x" * 50_000 + b"</S>"
    )
    small = psrp.message(PSRPMessageType.EndOfPipelineInput, POOL, PIPELINE, b"")
    payloads = psrp.Fragmenter().payloads([big, small], limit=4096)
    assert len(payloads) > 12
    assert all(len(p) <= 4096 for p in payloads)
    received = []
    defragmenter = psrp.Defragmenter()
    for payload in payloads:
        received += defragmenter.feed(payload)
    assert [(m.type, m.pipeline_id) for m in received] == [
        (PSRPMessageType.PipelineInput, PIPELINE),
        (PSRPMessageType.EndOfPipelineInput, PIPELINE),
    ]
    assert received[0].data == b"<S>" + b"x" * 50_000 + b"</S>"


@pytest.mark.parametrize("size", [0, 2, 3, 4, 5, 1000, 1001, 1002])
def test_a_shared_encoding_gives_the_stream_text_of_the_message_framed_whole(size: int) -> None:
    data = b"<S>" + base64.b64encode(os.urandom(size)) + b"</S>"
    shared = psrp.EncodedData.of(data)
    framed, encoded = psrp.Fragmenter(), psrp.Fragmenter()
    for _ in range(3):  # object ids advance the same way on both paths
        (payload,) = framed.payloads(
            [psrp.message(PSRPMessageType.PipelineInput, POOL, PIPELINE, data)], limit=4096
        )
        text = encoded.whole_text(PSRPMessageType.PipelineInput, POOL, PIPELINE, shared, 4096)
        assert text == base64.b64encode(payload).decode()
    assert shared.data == data


def test_a_shared_encoding_too_big_for_one_fragment_is_left_to_the_fragmenter() -> None:
    shared = psrp.EncodedData.of(b"<S>" + b"x" * 5000 + b"</S>")
    fragmenter = psrp.Fragmenter()
    assert (
        fragmenter.whole_text(PSRPMessageType.PipelineInput, POOL, PIPELINE, shared, 4096) is None
    )
    # and it used no object id
    (payload,) = fragmenter.payloads(
        [psrp.message(PSRPMessageType.EndOfPipelineInput, POOL, PIPELINE, b"")], 4096
    )
    assert payload[:8] == (1).to_bytes(8, "big")


def test_psrpcore_reads_what_the_fragmenter_writes() -> None:
    server = psrpcore.ServerRunspacePool()
    messages = [
        psrp.message(PSRPMessageType.SessionCapability, POOL, None, psrp.session_capability()),
        psrp.message(PSRPMessageType.InitRunspacePool, POOL, None, psrp.init_runspace_pool(1, 3)),
    ]
    for payload in psrp.Fragmenter().payloads(messages, limit=300):
        server.receive_data(psrpcore.PSRPPayload(payload, psrpcore.StreamType.default, None))
    events = []
    while (event := server.next_event()) is not None:
        events.append(event)
    assert isinstance(events[0], psrpcore.SessionCapabilityEvent)
    assert isinstance(events[1], psrpcore.InitRunspacePoolEvent)
    assert events[1].max_runspaces == 3


def test_cached_create_pipeline_matches_psrpcore() -> None:
    pool = psrpcore.ClientRunspacePool()
    powershell = psrpcore.ClientPowerShell(pool, no_input=True)
    powershell.add_script("Get-Item $args[0]").add_argument("C:\\").add_parameter("Force", True)
    expected = ET.tostring(
        psrpcore.types.serialize(powershell.metadata, psrpcore.PSRemotingCrypto()),
        encoding="utf-8",
    )
    for _ in range(2):  # built once, then served from the cache
        xml = psrp.create_pipeline(
            "Get-Item $args[0]", ("C:\\",), {"Force": True}, no_input=True, protocol_version=None
        )
        assert xml == expected


def test_fragments_out_of_order_are_a_protocol_error() -> None:
    message = psrp.message(
        PSRPMessageType.PipelineOutput, POOL, PIPELINE, b"<S>" + b"y" * 900 + b"</S>"
    )
    first, second, *_ = psrp.Fragmenter().payloads([message], limit=300)
    with pytest.raises(errors.ProtocolError):
        psrp.Defragmenter().feed(second)
    with pytest.raises(errors.ProtocolError):
        psrp.Defragmenter().feed(first[:30])

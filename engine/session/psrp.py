"""The bridge between psrpcore's sans-IO runspace pool and WSMan streams.

psrpcore queues outgoing PSRP messages and parses incoming fragments; this module
takes the queued messages out as fragments sized for one envelope, and feeds
received stream data back in, turning psrpcore's failures into ProtocolError.
Both directions run without an await, so concurrent pipelines of one pool never
interleave their fragments.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Hashable, Sequence
from typing import Any
from xml.etree import ElementTree as ET

import psrpcore
from psrpcore._payload import PSRPMessage, create_message
from psrpcore.types import PSInvocationState, PSRPMessageType, PSVersion, serialize

from psfleet.errors import ProtocolError
from psfleet.wsman import names
from psfleet.wsman.shell import StreamChunk

# Envelope headers, selectors and the Send/Command wrapper stay well under this.
_ENVELOPE_OVERHEAD = 4096
_STREAM_NAMES = {psrpcore.StreamType.default: "stdin", psrpcore.StreamType.prompt_response: "pr"}
_VERSION_2_2 = PSVersion("2.2")


def fragment_limit(max_envelope_size: int) -> int:
    """The most PSRP bytes one envelope can carry once base64 has grown them by 4/3."""
    return (max_envelope_size - _ENVELOPE_OVERHEAD) // 4 * 3


def shell_id_of(runspace_pool_id: uuid.UUID) -> str:
    """Windows PowerShell uses the RunspacePool id as the ShellId: so do we."""
    return str(runspace_pool_id).upper()


def take_payloads(pool: psrpcore.ClientRunspacePool, limit: int) -> list[psrpcore.PSRPPayload]:
    """Everything psrpcore has queued, as payloads of at most `limit` bytes."""
    payloads = []
    while (payload := pool.data_to_send(limit)) is not None:
        payloads.append(payload)
    return payloads


def as_send_chunks(
    payloads: Sequence[psrpcore.PSRPPayload], command_id: str | None
) -> list[StreamChunk]:
    return [StreamChunk(_STREAM_NAMES[p.stream_type], command_id, p.data) for p in payloads]


def as_argument(payload: psrpcore.PSRPPayload) -> str:
    """A CreatePipeline rides base64-encoded in the Arguments of the WSMan Command."""
    return base64.b64encode(payload.data).decode("ascii")


def feed(
    pool: psrpcore.ClientRunspacePool,
    chunks: Sequence[StreamChunk],
    pipeline_id: uuid.UUID | None,
) -> list[psrpcore.PSRPEvent[Any, Any]]:
    """Give received stream data to psrpcore and return every event it completes."""
    events: list[psrpcore.PSRPEvent[Any, Any]] = []
    try:
        for chunk in chunks:
            if chunk.data:
                pool.receive_data(
                    psrpcore.PSRPPayload(chunk.data, psrpcore.StreamType.default, pipeline_id)
                )
        while (event := pool.next_event()) is not None:
            events.append(event)
    except (psrpcore.PSRPCoreError, ET.ParseError, ValueError, KeyError, IndexError) as exc:
        raise ProtocolError(f"unexpected PSRP data: {type(exc).__name__}: {exc}") from None
    return events


_CACHEABLE = (str, int, float, bool, type(None))


def pipeline_key(
    script: str, args: tuple[Any, ...], parameters: dict[str, Any], no_input: bool
) -> Hashable | None:
    """What identifies a CreatePipeline's XML, or None when an argument is not a plain value."""
    values = (*args, *parameters.values())
    if not all(type(v) in _CACHEABLE for v in values):
        return None  # collections and objects: serialized every time
    return (script, args, tuple(parameters.items()), no_input)


def start_pipeline(
    pool: psrpcore.ClientRunspacePool, ps: psrpcore.ClientPowerShell, key: Hashable | None
) -> None:
    """`ps.start()`, but the CreatePipeline XML is serialized once per distinct pipeline.

    Serializing costs ~1.8 ms of CPU; a fan-out sends the same pipeline to every host,
    so the XML is cached and only the message header (pool and pipeline ids) is new.
    This fills psrpcore's send queue directly (psrpcore 0.3.1 internals, pinned).
    """
    if key is None:
        ps.start()
        return
    theirs = pool.their_capability
    xml = _pipeline_xml(key, str(theirs.protocolversion) if theirs else "", ps, pool)
    message_type = PSRPMessageType.CreatePipeline
    data = create_message(True, message_type, xml, pool.runspace_pool_id, ps.pipeline_id)
    pool._send_buffer.append(
        PSRPMessage(
            message_type,
            bytearray(data),
            pool.runspace_pool_id,
            ps.pipeline_id,
            pool._fragment_counter,
        )
    )
    ps.state = PSInvocationState.Running


def _pipeline_xml(
    key: Hashable, version: str, ps: psrpcore.ClientPowerShell, pool: psrpcore.ClientRunspacePool
) -> bytes:
    cached = _XML_CACHE.get((key, version))
    if cached is None:
        element = serialize(
            ps.metadata,
            pool._cipher,
            our_capability=pool.our_capability,
            their_capability=pool.their_capability,
        )
        cached = ET.tostring(element, encoding="utf-8", method="xml")
        _remember((key, version), cached)
    return cached


_XML_CACHE: dict[Hashable, bytes] = {}
_XML_CACHE_SIZE = 256


def _remember(key: Hashable, xml: bytes) -> None:
    if len(_XML_CACHE) >= _XML_CACHE_SIZE:
        _XML_CACHE.pop(next(iter(_XML_CACHE)))  # oldest first: dicts keep insertion order
    _XML_CACHE[key] = xml


def negotiated_envelope_size(pool: psrpcore.ClientRunspacePool, current: int) -> int:
    """Hosts speaking PSRP 2.2+ (PowerShell 3 and later) accept 500 KB envelopes."""
    theirs = pool.their_capability
    if theirs is None or current != names.DEFAULT_MAX_ENVELOPE_SIZE:
        return current
    if theirs.protocolversion >= _VERSION_2_2:
        return names.NEW_MAX_ENVELOPE_SIZE
    return current

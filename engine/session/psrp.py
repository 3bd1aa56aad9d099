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
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

import psrpcore
from psrpcore.types import PSVersion

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


def negotiated_envelope_size(pool: psrpcore.ClientRunspacePool, current: int) -> int:
    """Hosts speaking PSRP 2.2+ (PowerShell 3 and later) accept 500 KB envelopes."""
    theirs = pool.their_capability
    if theirs is None or current != names.DEFAULT_MAX_ENVELOPE_SIZE:
        return current
    if theirs.protocolversion >= _VERSION_2_2:
        return names.NEW_MAX_ENVELOPE_SIZE
    return current

"""PSRP messages and fragments, sans-IO: what the client sends and how it reads what comes back.

psrpcore writes the CLIXML of what we send (runspace pool and pipeline creation,
pipeline input); this module frames it into messages and fragments sized for one
WSMan envelope, and cuts the received stream data back into messages. The XML that
is the same for every host (SessionCapability, InitRunspacePool, a script's
CreatePipeline) is written once and only re-framed per host: serializing a
CreatePipeline costs psrpcore ~1.8 ms, re-framing it microseconds.
"""

from __future__ import annotations

import base64
import functools
import struct
import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from xml.etree import ElementTree as ET

import psrpcore
from psrpcore.types import (
    HostInfo,
    InitRunspacePool,
    PSRPMessageType,
    PSVersion,
    PublicKey,
    SessionCapability,
    serialize,
)

from psfleet.errors import ProtocolError
from psfleet.session.convert import SecureString
from psfleet.wsman import names

MessageType = PSRPMessageType

_FRAGMENT: Final = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
_HEADER: Final = struct.Struct("<iI16s16s")  # destination, type, pool id, pipeline id (.NET GUIDs)
_START, _END = 0x1, 0x2
_TO_SERVER: Final = 2
_NO_PIPELINE: Final = b"\x00" * 16
# Envelope headers, selectors and the Send/Command wrapper stay well under this.
_ENVELOPE_OVERHEAD: Final = 4096
_VERSION_2_2: Final = PSVersion("2.2")
# base64 of a concatenation is the concatenation of the base64s when the first part's
# length is a multiple of 3: the fragment and message headers (61 bytes) plus this many
# bytes of the message's data make 63.
_SPLIT: Final = -(_FRAGMENT.size + _HEADER.size) % 3
_OURS: Final = SessionCapability(
    PSVersion=PSVersion("2.0"),
    protocolversion=PSVersion("2.3"),
    SerializationVersion=PSVersion("1.1.0.1"),
)
_CRYPTO: Final = psrpcore.PSRemotingCrypto()  # no session key: for XML that holds no secret


class SessionKeyNeeded(Exception):
    """What is to be sent holds a SecureString and the pool has no session key yet."""


@dataclass(frozen=True, slots=True)
class Message:
    """One PSRP message received from the host."""

    type: int
    pipeline_id: uuid.UUID | None
    data: bytes


def fragment_limit(max_envelope_size: int) -> int:
    """The most PSRP bytes one envelope can carry once base64 has grown them by 4/3."""
    return (max_envelope_size - _ENVELOPE_OVERHEAD) // 4 * 3


def shell_id_of(runspace_pool_id: uuid.UUID) -> str:
    """Windows PowerShell uses the RunspacePool id as the ShellId: so do we."""
    return str(runspace_pool_id).upper()


def as_argument(payload: bytes) -> str:
    """A CreatePipeline rides base64-encoded in the Arguments of the WSMan Command."""
    return base64.b64encode(payload).decode("ascii")


def negotiated_envelope_size(protocol_version: str | None, current: int) -> int:
    """Hosts speaking PSRP 2.2+ (PowerShell 3 and later) accept 500 KB envelopes."""
    if protocol_version is None or current != names.DEFAULT_MAX_ENVELOPE_SIZE:
        return current
    if _at_least_2_2(protocol_version):
        return names.NEW_MAX_ENVELOPE_SIZE
    return current


@functools.lru_cache(maxsize=16)
def _at_least_2_2(protocol_version: str) -> bool:
    # psrpcore's PSVersion parse costs ~30 us; a fleet has one or two versions in all.
    return PSVersion(protocol_version) >= _VERSION_2_2


# --- sending --------------------------------------------------------------------------


def message(
    message_type: int, pool_id: uuid.UUID, pipeline_id: uuid.UUID | None, data: bytes
) -> bytes:
    pipeline = pipeline_id.bytes_le if pipeline_id else _NO_PIPELINE
    return _HEADER.pack(_TO_SERVER, message_type, pool_id.bytes_le, pipeline) + data


@dataclass(frozen=True, slots=True)
class EncodedData:
    """A message's data, base64-encoded once for every pool that sends it (a file pushed to
    many hosts): of the stream text of a message sent whole in one fragment, only the part
    that encodes the headers and the first `_SPLIT` data bytes is the pool's own."""

    head: bytes  # the first _SPLIT bytes of the data
    tail: str  # base64 of the rest
    length: int  # of the data

    @classmethod
    def of(cls, data: bytes) -> EncodedData:
        return cls(data[:_SPLIT], base64.b64encode(data[_SPLIT:]).decode("ascii"), len(data))

    @property
    def data(self) -> bytes:
        return self.head + base64.b64decode(self.tail)


class Fragmenter:
    """Cuts a pool's outgoing messages into fragments; object ids are unique per pool."""

    def __init__(self) -> None:
        self._next_object_id = 1

    def whole_text(
        self,
        message_type: int,
        pool_id: uuid.UUID,
        pipeline_id: uuid.UUID | None,
        encoded: EncodedData,
        limit: int,
    ) -> str | None:
        """The base64 stream text of one message in one fragment, alone in its payload, built
        on the shared encoding of its data; None when it needs more than one fragment."""
        length = _HEADER.size + encoded.length
        if _FRAGMENT.size + length > limit or len(encoded.head) < _SPLIT:
            return None
        object_id, self._next_object_id = self._next_object_id, self._next_object_id + 1
        own = _FRAGMENT.pack(object_id, 0, _START | _END, length) + message(
            message_type, pool_id, pipeline_id, encoded.head
        )
        return base64.b64encode(own).decode("ascii") + encoded.tail

    def payloads(self, messages: Iterable[bytes], limit: int) -> list[bytes]:
        """Fragments of `messages`, packed in order into payloads of at most `limit` bytes."""
        payloads: list[bytes] = []
        current = bytearray()
        for data in messages:
            object_id, self._next_object_id = self._next_object_id, self._next_object_id + 1
            fragment_id = offset = 0
            while True:
                room = limit - len(current) - _FRAGMENT.size
                if room <= 0:
                    payloads.append(bytes(current))
                    current = bytearray()
                    continue
                chunk = data[offset : offset + room]
                offset += len(chunk)
                flags = (_START if fragment_id == 0 else 0) | (_END if offset >= len(data) else 0)
                current += _FRAGMENT.pack(object_id, fragment_id, flags, len(chunk)) + chunk
                fragment_id += 1
                if flags & _END:
                    break
        if current:
            payloads.append(bytes(current))
        return payloads


def session_capability() -> bytes:
    return _xml(("capability",), lambda: _OURS)


def init_runspace_pool(min_runspaces: int, max_runspaces: int) -> bytes:
    return _xml(
        ("init", min_runspaces, max_runspaces),
        lambda: InitRunspacePool(
            MinRunspaces=min_runspaces,
            MaxRunspaces=max_runspaces,
            PSThreadOptions=psrpcore.types.PSThreadOptions.Default,
            ApartmentState=psrpcore.types.ApartmentState.Unknown,
            HostInfo=HostInfo(),
            ApplicationArguments={},
        ),
    )


def create_pipeline(
    script: str,
    args: tuple[Any, ...],
    parameters: Mapping[str, Any],
    *,
    no_input: bool,
    protocol_version: str | None,
    cipher: Any = _CRYPTO,
) -> bytes:
    """The CreatePipeline XML of a script; cached when every argument is a plain value.

    SecureStrings among the arguments are encrypted with `cipher`, the pool's session key
    (SessionKeyNeeded until it was exchanged); such XML is never cached.
    """

    def build() -> psrpcore.PowerShell:
        pipeline = psrpcore.PowerShell(
            apartment_state=psrpcore.types.ApartmentState.Unknown, no_input=no_input
        )
        command = psrpcore.Command(script, True)
        for arg in args:
            command.add_parameter(None, _wire(arg))
        for name, value in parameters.items():
            command.add_parameter(name, _wire(value))
        pipeline.commands.append(command)
        return pipeline

    values = (*args, *parameters.values())
    if not all(type(v) in _CACHEABLE for v in values):
        return _serialize(build(), protocol_version, cipher)  # collections, objects: every time
    key = ("pipeline", script, args, tuple(parameters.items()), no_input, protocol_version)
    return _xml(key, build, protocol_version)


def pipeline_input(value: Any, protocol_version: str | None, cipher: Any = _CRYPTO) -> bytes:
    return _serialize(_wire(value), protocol_version, cipher)


def public_key(key: bytes) -> bytes:
    """The PUBLIC_KEY message of a session key exchange (MS-PSRP 2.2.2.3)."""
    return _serialize(PublicKey(PublicKey=base64.b64encode(key).decode("ascii")), None)


def _wire(value: Any) -> Any:
    """psfleet's SecureString goes out as the psrpcore value it wraps."""
    return value.psrp_value() if isinstance(value, SecureString) else value


_CACHEABLE = (str, int, float, bool, type(None))
_XML_CACHE: dict[Hashable, bytes] = {}
_XML_CACHE_SIZE = 256


def _xml(key: Hashable, build: Any, protocol_version: str | None = None) -> bytes:
    cached = _XML_CACHE.get(key)
    if cached is None:
        cached = _serialize(build(), protocol_version)
        if len(_XML_CACHE) >= _XML_CACHE_SIZE:
            _XML_CACHE.pop(next(iter(_XML_CACHE)))  # oldest first: dicts keep insertion order
        _XML_CACHE[key] = cached
    return cached


def _serialize(value: Any, protocol_version: str | None, cipher: Any = _CRYPTO) -> bytes:
    theirs = None
    if protocol_version is not None:
        theirs = SessionCapability(
            PSVersion=PSVersion("2.0"),
            protocolversion=PSVersion(protocol_version),
            SerializationVersion=PSVersion("1.1.0.1"),
        )
    try:
        element = serialize(value, cipher, our_capability=_OURS, their_capability=theirs)
    except psrpcore.MissingCipherError:
        raise SessionKeyNeeded from None
    xml: bytes = ET.tostring(element, encoding="utf-8", method="xml")
    return xml


# --- receiving ------------------------------------------------------------------------


class Defragmenter:
    """Joins the fragments of one receive stream back into messages."""

    def __init__(self) -> None:
        self._partial: dict[int, list[bytes]] = {}

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        position = 0
        while position < len(data):
            if len(data) - position < _FRAGMENT.size:
                raise ProtocolError("truncated PSRP fragment header")
            object_id, fragment_id, flags, length = _FRAGMENT.unpack_from(data, position)
            position += _FRAGMENT.size
            chunk = data[position : position + length]
            position += length
            if len(chunk) != length:
                raise ProtocolError("truncated PSRP fragment")
            parts = self._partial.setdefault(object_id, [])
            if fragment_id != len(parts) or bool(flags & _START) != (fragment_id == 0):
                raise ProtocolError(
                    f"PSRP fragment {fragment_id} of object {object_id} out of order"
                )
            parts.append(chunk)
            if flags & _END:
                messages.append(_message(b"".join(self._partial.pop(object_id))))
        return messages


def _message(data: bytes) -> Message:
    if len(data) < _HEADER.size:
        raise ProtocolError("PSRP message shorter than its header")
    _, message_type, _, pipeline = _HEADER.unpack_from(data)
    pipeline_id = None if pipeline == _NO_PIPELINE else uuid.UUID(bytes_le=pipeline)
    return Message(message_type, pipeline_id, data[_HEADER.size :])

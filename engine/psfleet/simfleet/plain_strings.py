"""Big plain strings in CLIXML both ways, without psrpcore's passes over every character.

A push sends each chunk as one PipelineInput message alone in its fragment, a fetch
gets each chunk as one PipelineOutput string: a few hundred KB of `<S>base64</S>`.
psrpcore parses input as XML and then runs its `_xHHHH_` unescaping over the string as
UTF-16 (about 2 ms of simulator CPU per MB); it escapes output with two regex passes
(about 4 ms/MB). A string of only base64 characters needs none of it: no entity, no
escape, no character XML would refuse or normalize. simfleet reads and writes such
strings as psrpcore would, byte for byte, and leaves everything else to psrpcore.
"""

from __future__ import annotations

import struct
import uuid
from typing import Final

import pybase64
from psrpcore.types import PSRPMessageType, PSString

_FRAGMENT: Final = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
_MESSAGE: Final = struct.Struct("<iI16s16s")  # destination, type, pool id, pipeline id
_WHOLE: Final = 0x3  # start and end: the message is in this one fragment
_TO_SERVER: Final = 2
_OPEN, _CLOSE = b"<S>", b"</S>"
_DATA_AT: Final = _FRAGMENT.size + _MESSAGE.size
_WORTH_IT: Final = 4096  # shorter output goes through psrpcore: its cost is per message there


def plain_string_input(payload: bytes, pipeline_id: uuid.UUID) -> PSString | None:
    """The input string of `payload` if it is exactly one whole PipelineInput message for
    `pipeline_id` whose CLIXML is `<S>` and base64 characters; else None (psrpcore's)."""
    if len(payload) < _DATA_AT + len(_OPEN) + len(_CLOSE):
        return None
    _, fragment_id, flags, length = _FRAGMENT.unpack_from(payload)
    if fragment_id != 0 or flags != _WHOLE or length != len(payload) - _FRAGMENT.size:
        return None
    destination, message_type, _, pipeline = _MESSAGE.unpack_from(payload, _FRAGMENT.size)
    if (
        destination != _TO_SERVER
        or message_type != PSRPMessageType.PipelineInput.value
        or pipeline != pipeline_id.bytes_le
        or not payload.startswith(_OPEN, _DATA_AT)
        or not payload.endswith(_CLOSE)
    ):
        return None
    text = payload[_DATA_AT + len(_OPEN) : -len(_CLOSE)]
    if not _is_base64(text):
        return None
    return PSString(text.decode("ascii"))


def plain_string_clixml(value: object) -> bytes | None:
    """`<S>value</S>` for a long str of only base64 characters, as psrpcore's serializer
    writes it; None for anything else (psrpcore's to write)."""
    if type(value) is not str or len(value) < _WORTH_IT or not value.isascii():
        return None
    text = value.encode("ascii")
    if not _is_base64(text):
        return None
    return _OPEN + text + _CLOSE


def _is_base64(text: bytes) -> bool:
    """Valid base64 and so only its characters: pybase64's SIMD check takes 0.07 ms per MB,
    a translate() over the alphabet 0.36 (both for every chunk a transfer moves)."""
    try:
        pybase64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True

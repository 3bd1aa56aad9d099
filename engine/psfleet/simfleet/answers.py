"""Recorded answers of deterministic pipelines, replayed to later identical requests.

A fan-out sends one script to every host, and benchmarks send it again and again. When
minips says a pipeline's output depends only on the host (and on whether the session can
delegate), the messages its first run sent are kept, keyed by the CreatePipeline message
as the client serialized it. A later identical CreatePipeline on that host gets the same
messages framed for its own pipeline: nothing is parsed, run or serialized again.
"""

from __future__ import annotations

import collections
import struct
import uuid
from collections.abc import Callable, Hashable, Sequence

from psrpcore.types import PSRPMessageType

_FRAGMENT = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
_MESSAGE = struct.Struct("<iI16s16s")  # destination, message type, RPID, PID (MS-PSRP 2.2.1)
_START, _END = 0x1, 0x2
_TO_CLIENT = 0x1
_CREATE_PIPELINE = PSRPMessageType.CreatePipeline.value

Message = tuple[int, bytes]  # message type, serialized (CLIXML) body


def create_pipeline_of(arguments: bytes) -> tuple[uuid.UUID, bytes] | None:
    """(pipeline id, CLIXML) of a Command's CreatePipeline, when it is one whole fragment."""
    if len(arguments) < _FRAGMENT.size + _MESSAGE.size:
        return None
    _, _, flags, length = _FRAGMENT.unpack_from(arguments)
    if flags != _START | _END or len(arguments) != _FRAGMENT.size + length:
        return None
    _, message_type, _, pipeline_id = _MESSAGE.unpack_from(arguments, _FRAGMENT.size)
    if message_type != _CREATE_PIPELINE:
        return None
    return uuid.UUID(bytes_le=pipeline_id), arguments[_FRAGMENT.size + _MESSAGE.size :]


class Recorder:
    """Reassembles the messages one pipeline sends, from its outgoing fragments."""

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.messages: list[Message] = []
        self.replayable = True
        self._partial = bytearray()

    def add(self, fragment: bytes) -> None:
        _, _, flags, _ = _FRAGMENT.unpack_from(fragment)
        if flags & _START:
            self._partial = bytearray()
        self._partial += fragment[_FRAGMENT.size :]
        if flags & _END:
            (message_type,) = struct.unpack_from("<I", self._partial, 4)
            body = bytes(self._partial[_MESSAGE.size :])
            # A SecureString is encrypted with this pool's session key: not for other pools.
            self.replayable = self.replayable and b"<SS" not in body
            self.messages.append((message_type, body))


def frame(
    messages: Sequence[Message],
    runspace_pool_id: uuid.UUID,
    pipeline_id: uuid.UUID,
    object_ids: Callable[[], int],
    fragment_size: int,
) -> list[bytes]:
    """The fragments that carry `messages` to the client for one pipeline."""
    fragments = []
    room = fragment_size - _FRAGMENT.size
    pool_bytes, pipeline_bytes = runspace_pool_id.bytes_le, pipeline_id.bytes_le
    for message_type, body in messages:
        message = _MESSAGE.pack(_TO_CLIENT, message_type, pool_bytes, pipeline_bytes) + body
        object_id = object_ids()
        for fragment_id, start in enumerate(range(0, len(message), room)):
            chunk = message[start : start + room]
            flags = (_START if start == 0 else 0) | (_END if start + room >= len(message) else 0)
            fragments.append(_FRAGMENT.pack(object_id, fragment_id, flags, len(chunk)) + chunk)
    return fragments


class AnswerCache:
    """The recorded answers of one host: the most recently used `size` pipelines."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._answers: collections.OrderedDict[Hashable, tuple[Message, ...]] = (
            collections.OrderedDict()
        )

    def get(self, key: Hashable) -> tuple[Message, ...] | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: Hashable, messages: Sequence[Message]) -> None:
        self._answers[key] = tuple(messages)
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)

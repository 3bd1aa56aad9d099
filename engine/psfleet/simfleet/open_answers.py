"""Recorded answers to a runspace pool's opening, replayed to later identical Creates.

A fan-out opens a pool on every host with the same creationXml (SESSION_CAPABILITY and
INIT_RUNSPACEPOOL as the client serialized them), and a fresh psrpcore pool answers it
with the same messages (its capability, ApplicationPrivateData, the Opened state) on
every host: only the RunspacePool id in the message headers differs. Parsing the
client's messages and serializing the answer took half of the simulator's CPU per cold
host, so the first pool opened with given bytes records its answer's fragments, and
later ones get those fragments with their own pool id. The fleet shares the cache: the
answer does not depend on the host.
"""

from __future__ import annotations

import collections
import uuid
from dataclasses import dataclass

_FRAGMENT_HEADER = 21
_POOL_ID = slice(_FRAGMENT_HEADER + 8, _FRAGMENT_HEADER + 24)  # in a message's header
_START = 0x1

OpenKey = tuple[int, bytes]  # fragment size, creationXml with its pool id zeroed


def pool_id_of(creation_xml: bytes) -> uuid.UUID | None:
    """The RunspacePool id of the first message of creationXml (MS-PSRP 2.2.1)."""
    if len(creation_xml) < _POOL_ID.stop or not creation_xml[16] & _START:
        return None
    return uuid.UUID(bytes_le=creation_xml[_POOL_ID])


def open_key(creation_xml: bytes, pool_id: uuid.UUID, fragment_size: int) -> OpenKey:
    """What the answer to a pool's opening depends on: the client's bytes but its pool id,
    and how large a fragment the answer may use."""
    return fragment_size, creation_xml.replace(pool_id.bytes_le, bytes(16))


@dataclass(frozen=True, slots=True)
class OpenAnswer:
    pool_id: uuid.UUID  # the pool the fragments were recorded for
    fragments: tuple[bytes, ...]

    def for_pool(self, pool_id: uuid.UUID) -> list[bytes]:
        """The same fragments, addressed to another pool."""
        old, new = self.pool_id.bytes_le, pool_id.bytes_le
        return [fragment.replace(old, new) for fragment in self.fragments]


class OpenAnswers:
    """The fleet's recorded openings: the most recently used `size` creationXml forms."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._answers: collections.OrderedDict[OpenKey, OpenAnswer] = collections.OrderedDict()

    def get(self, key: OpenKey) -> OpenAnswer | None:
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
        return answer

    def put(self, key: OpenKey, answer: OpenAnswer) -> None:
        self._answers[key] = answer
        self._answers.move_to_end(key)
        while len(self._answers) > self._size:
            self._answers.popitem(last=False)

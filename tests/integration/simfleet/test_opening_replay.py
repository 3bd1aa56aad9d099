"""A pool's opening is answered from the fleet's record, byte for byte as psrpcore answers it."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator

import psrpcore
import pytest
from raw_wsman import Answer, RawPeer, RawPool

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.wsman import shell

_FRAGMENT = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
_MESSAGE = struct.Struct("<iI16s16s")  # destination, message type, RPID, PID


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(hosts=2, base_address="127.33.1.1", port=0, allow_unencrypted=True)
    with fleet_in_thread(config) as running:
        yield running


def fragments(answers: list[Answer]) -> list[bytes]:
    """The PSRP fragments of Receive responses, in order."""
    return split(
        b"".join(
            chunk.data
            for answer in answers
            for chunk in shell.parse_receive_response(answer.envelope.body).chunks
        )
    )


def split(data: bytes) -> list[bytes]:
    found, position = [], 0
    while position < len(data):
        length = _FRAGMENT.unpack_from(data, position)[3]
        found.append(data[position : position + _FRAGMENT.size + length])
        position += _FRAGMENT.size + length
    return found


def psrpcore_answer(creation_xml: bytes) -> list[bytes]:
    """What a new psrpcore server pool answers to this creationXml, one fragment a message."""
    server = psrpcore.ServerRunspacePool()
    server.receive_data(psrpcore.PSRPPayload(creation_xml, psrpcore.StreamType.default, None))
    while server.next_event() is not None:
        pass
    answer = []
    while (payload := server.data_to_send()) is not None:
        answer += split(payload.data)
    return answer


def messages(fragments: list[bytes]) -> list[tuple[int, uuid.UUID]]:
    """(object id, runspace pool id) of each message, from its first fragment."""
    found = []
    for fragment in fragments:
        object_id, _, flags, _ = _FRAGMENT.unpack_from(fragment)
        if flags & 1:
            rpid = _MESSAGE.unpack_from(fragment, _FRAGMENT.size)[2]
            found.append((object_id, uuid.UUID(bytes_le=rpid)))
    return found


def test_every_opening_is_answered_as_psrpcore_answers_it(fleet: ThreadedFleet) -> None:
    pools: list[RawPool] = []
    for host in [fleet.hosts[0], fleet.hosts[1], fleet.hosts[0]]:
        pools.append(RawPeer(host).open_pool())  # the first records, the others replay
    for pool in pools:
        assert fragments(pool.opening) == psrpcore_answer(pool.creation_xml)
        assert pool.close().status == 200


def test_a_pool_opened_from_the_record_runs_everything(fleet: ThreadedFleet) -> None:
    first = RawPeer(fleet.hosts[1]).open_pool()
    assert first.run("$env:COMPUTERNAME").output == ["NODE02"]  # recorded for the host
    assert first.close().status == 200
    pool = RawPeer(fleet.hosts[1]).open_pool()
    replayed_before = fleet.stats("node02")["replayed"]
    cached = pool.run("$env:COMPUTERNAME")
    assert fleet.stats("node02")["replayed"] == replayed_before + 1
    ran = pool.run("Get-Date; 'ran'")  # reads the clock: psrpcore's pool runs it
    assert cached.output == ["NODE02"]
    assert len(ran.output) == 2 and ran.output[1] == "ran" and not ran.errors
    sent = messages(fragments(pool.opening + cached.answers + ran.answers))
    object_ids = [object_id for object_id, _ in sent]
    assert object_ids == list(range(1, len(sent) + 1))  # one count for the pool, none reused
    # psrpcore's server sends its capability before it has read the pool id (zeros).
    assert {rpid for _, rpid in sent[1:]} == {pool.pool.runspace_pool_id}
    assert pool.close().status == 200

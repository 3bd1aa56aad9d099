"""Recorded pipeline answers: found in a Command, reassembled, re-framed, kept in a bounded LRU."""

import itertools
import uuid

import psrpcore
from psrpcore.types import PSRPMessageType, RunspacePoolState

from psfleet.simfleet.answers import AnswerCache, Recorder, create_pipeline_of, frame
from psfleet.simfleet.outbox import split_fragments


def _create_pipeline(script: str, fragment_size: int = 32768) -> tuple[bytes, uuid.UUID]:
    pool = psrpcore.ClientRunspacePool()
    pool.state = RunspacePoolState.Opened
    ps = psrpcore.ClientPowerShell(pool)
    ps.add_script(script)
    ps.start()
    payload = pool.data_to_send(fragment_size)
    assert payload is not None
    return payload.data, ps.pipeline_id


def test_a_whole_create_pipeline_is_found_with_its_pipeline_id() -> None:
    arguments, pipeline_id = _create_pipeline("Get-Service WinRM")
    found = create_pipeline_of(arguments)
    assert found is not None
    assert found[0] == pipeline_id
    assert found[1].startswith(b"<Obj") and b"Get-Service WinRM" in found[1]
    # The same script from another pool and pipeline has the same key.
    again = create_pipeline_of(_create_pipeline("Get-Service WinRM")[0])
    assert again is not None and again[1] == found[1]


def test_a_fragmented_or_foreign_message_is_not_a_key() -> None:
    arguments, _ = _create_pipeline("'x' * 5000", fragment_size=1024)
    assert create_pipeline_of(arguments) is None  # several fragments
    pool = psrpcore.ClientRunspacePool()
    pool.open()
    opening = pool.data_to_send()
    assert opening is not None
    assert create_pipeline_of(opening.data) is None  # SessionCapability, not CreatePipeline
    assert create_pipeline_of(b"\x00" * 10) is None


def test_framed_messages_are_reassembled_to_the_same_messages() -> None:
    messages = [
        (PSRPMessageType.PipelineOutput.value, b"<I32>1</I32>"),
        (PSRPMessageType.PipelineOutput.value, b"<S>" + b"y" * 3000 + b"</S>"),
        (PSRPMessageType.PipelineState.value, b'<Obj RefId="0"><MS><I32 N="PipelineState">4</I32>'),
    ]
    ids = itertools.count(7)
    pool_id, pipeline_id = uuid.uuid4(), uuid.uuid4()
    fragments = frame(messages, pool_id, pipeline_id, lambda: next(ids), fragment_size=1000)
    assert all(len(f) <= 1000 for f in fragments)
    assert len(fragments) == 1 + 4 + 1
    recorder = Recorder("key")
    for fragment in split_fragments(b"".join(fragments)):
        recorder.add(fragment)
    assert recorder.messages == messages
    assert recorder.replayable
    assert next(ids) == 10  # one object id per message


def test_a_secure_string_is_not_replayable() -> None:
    recorder = Recorder("key")
    fragments = frame(
        [(PSRPMessageType.PipelineOutput.value, b"<SS>c2VjcmV0</SS>")],
        uuid.uuid4(),
        uuid.uuid4(),
        lambda: 1,
        fragment_size=4096,
    )
    recorder.add(fragments[0])
    assert not recorder.replayable


def test_the_cache_keeps_the_most_recently_used_answers() -> None:
    cache = AnswerCache(size=2)
    cache.put("a", [(1, b"a")])
    cache.put("b", [(1, b"b")])
    assert cache.get("a") == ((1, b"a"),)  # a is now the most recent
    cache.put("c", [(1, b"c")])
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None

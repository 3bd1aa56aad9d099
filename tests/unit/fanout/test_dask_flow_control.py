"""Client memory stays bounded on the Dask path: the workers' credit window and the inbox."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from psfleet.events import Event, HostDone, HostStarted, HostStatus, RecordEvent, Stream
from psfleet.fanout.ondask.chunk import MAX_BATCH, Publisher
from psfleet.fanout.ondask.inbox import WINDOW, Inbox, inbox_limit
from psfleet.fanout.ondask.wire import ChunkSpec, decode_batch, encode_batch
from psfleet.fanout.options import RunOptions

pytestmark = pytest.mark.anyio
W1 = "tcp://10.0.0.1:4001"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _spec() -> ChunkSpec:
    return ChunkSpec("run", "c0", [], [], [], RunOptions(), None, None, flush_s=0.001)


async def test_a_chunk_sends_no_more_than_the_window_past_what_the_client_merged() -> None:
    sent: list[dict[str, Any]] = []
    window_full, all_emitted = anyio.Event(), anyio.Event()

    def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == WINDOW:
            window_full.set()

    merged = 0
    publisher = Publisher(send, _spec(), W1, lambda: merged)
    emitted = 0

    async def host_output() -> None:
        nonlocal emitted
        for n in range((WINDOW + 4) * MAX_BATCH):
            await publisher.emit(RecordEvent("node01", Stream.OUTPUT, n))
            emitted += 1
        all_emitted.set()

    async with anyio.create_task_group() as group:
        group.start_soon(host_output)
        group.start_soon(publisher.flushing)
        with anyio.fail_after(10):
            await window_full.wait()
        await anyio.sleep(0.1)  # the window is full: nothing more may leave, the host waits
        assert len(sent) == WINDOW
        assert emitted < (WINDOW + 1) * MAX_BATCH
        merged = WINDOW  # the client merged them all: the rest may go
        with anyio.fail_after(10):
            await all_emitted.wait()
        group.cancel_scope.cancel()
    publisher.flush()
    assert [m["seq"] for m in sent] == list(range(len(sent)))
    assert sum(len(decode_batch(m).events) for m in sent) == (WINDOW + 4) * MAX_BATCH


def _batch(seq: int, host: str) -> dict[str, Any]:
    events: list[Event] = [
        HostStarted(host, 1),
        RecordEvent(host, Stream.OUTPUT, "x" * 100),
        RecordEvent(host, Stream.OUTPUT, "y" * 100),
        HostDone(host, HostStatus.OK, 0.1, 1),
    ]
    return encode_batch("c0", seq, W1, events)


async def test_a_full_inbox_keeps_every_host_s_status_and_drops_only_output() -> None:
    inbox = Inbox(limit=2)
    for seq in range(5):
        inbox.put("batch", _batch(seq, f"node{seq:02d}"))
    inbox.put("done", ("c0", None))
    assert inbox.waiting() == 2
    assert inbox.dropped_records == 6
    received = [await inbox.get() for _ in range(6)]
    assert [kind for kind, _ in received] == [
        "batch",
        "batch",
        "control",
        "control",
        "control",
        "done",
    ]
    for kind, batch in received[:5]:
        kinds = [type(e).__name__ for e in batch.events]
        expected = ["HostStarted", "RecordEvent", "RecordEvent", "HostDone"]
        assert kinds == (expected if kind == "batch" else ["HostStarted", "HostDone"])
    assert [batch.seq for _, batch in received[:5]] == [0, 1, 2, 3, 4]  # the order holds
    assert inbox.waiting() == 0


def test_the_inbox_holds_a_full_window_of_every_running_chunk() -> None:
    assert inbox_limit(worker_threads=4) == 5 * WINDOW
    assert inbox_limit(worker_threads=0) == 2 * WINDOW

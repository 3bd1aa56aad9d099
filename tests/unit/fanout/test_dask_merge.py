"""The Dask executor's client side: chunk sizes, and batches merged into one stream."""

from __future__ import annotations

import pytest

from psfleet.events import Event, HostDone, HostStarted, HostStatus, RecordEvent, Stream
from psfleet.fanout.ondask.executor import chunk_size_for
from psfleet.fanout.ondask.merge import Ledger
from psfleet.fanout.ondask.wire import Batch, decode_batch, encode_batch
from psfleet.targets.model import Target

pytestmark = pytest.mark.anyio
W1, W2 = "tcp://10.0.0.1:4001", "tcp://10.0.0.2:4002"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_chunk_holds_two_throttles_at_least_and_about_four_per_worker_thread() -> None:
    assert chunk_size_for(100, throttle=32, slots=2) == 64
    assert chunk_size_for(2000, throttle=32, slots=2) == 250
    assert chunk_size_for(50_000, throttle=32, slots=64) == 196
    assert chunk_size_for(10, throttle=32, slots=0) == 64  # no worker yet


def _ledger(seen: list[Event]) -> Ledger:
    async def emit(event: Event) -> None:
        seen.append(event)

    return Ledger([Target("node01", "node01"), Target("node02", "node02")], emit, collect=True)


async def test_batches_of_a_chunk_apply_in_published_order_whatever_their_arrival() -> None:
    seen: list[Event] = []
    ledger = _ledger(seen)
    first: list[Event] = [HostStarted("node01", 1), RecordEvent("node01", Stream.OUTPUT, "a")]
    second: list[Event] = [HostDone("node01", HostStatus.OK, 0.1, 1)]
    await ledger.take(Batch("c0", 1, W1, second))
    assert seen == [] and ledger.received("c0") == 0
    await ledger.take(decode_batch(encode_batch("c0", 0, W1, first)))
    assert [type(e).__name__ for e in seen] == ["HostStarted", "RecordEvent", "HostDone"]
    assert ledger.received("c0") == 2
    assert seen[1] == RecordEvent("node01", Stream.OUTPUT, "a", worker=W1)
    assert seen[2] == HostDone("node01", HostStatus.OK, 0.1, 1, worker=W1)
    assert ledger.result["node01"].output == ["a"]


async def test_a_host_run_again_is_started_once_and_done_once() -> None:
    seen: list[Event] = []
    ledger = _ledger(seen)
    await ledger.take(Batch("c0", 0, W1, [HostStarted("node02", 1)]))  # its worker then died
    await ledger.take(Batch("c1", 0, W2, [HostStarted("node02", 1)]))  # run again elsewhere
    await ledger.take(Batch("c1", 1, W2, [HostDone("node02", HostStatus.OK, 0.2, 1)]))
    late: list[Event] = [
        RecordEvent("node02", Stream.OUTPUT, "x"),
        HostDone("node02", HostStatus.FAILED, 1, 1),
    ]
    await ledger.take(Batch("c0", 1, W1, late))  # a straggler of the first run
    assert seen == [
        HostStarted("node02", 1),
        HostDone("node02", HostStatus.OK, 0.2, 1, worker=W2),
    ]
    await ledger.finish_unfinished(HostStatus.CANCELLED)
    assert ledger.result["node01"].status is HostStatus.CANCELLED
    assert ledger.result["node02"].status is HostStatus.OK


async def test_a_lost_host_whose_start_died_with_its_worker_is_started_before_it_ends() -> None:
    seen: list[Event] = []
    ledger = _ledger(seen)
    await ledger.take(Batch("c0", 0, W1, [HostStarted("node01", 1)]))
    lost = HostDone("node02", HostStatus.LOST, 0.0, 1, "WorkerLost", f"worker {W1}: lost")
    await ledger.finish(lost)  # node02's HostStarted was in a batch its worker never sent
    await ledger.finish(HostDone("node01", HostStatus.LOST, 0.0, 1, "WorkerLost", "lost"))
    assert [(type(e).__name__, e.host) for e in seen] == [
        ("HostStarted", "node01"),
        ("HostStarted", "node02"),
        ("HostDone", "node02"),
        ("HostDone", "node01"),
    ]

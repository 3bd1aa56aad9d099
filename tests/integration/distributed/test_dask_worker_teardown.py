"""A worker that ends closes its psfleet event loop: the loop's thread is gone, no shell left.

The report names the thread that ran the loop (its ident, as the loop saw it); the test checks
it is the `psfleet-worker-loop` thread seen on that worker before it retired.

A cluster of its own (on 127.35.0.1, fleet on 127.35.1.1): its workers are retired here.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import psfleet
from psfleet.fanout.ondask.worker_loop import WORKER_TOPIC
from psfleet.simfleet import SimConfig
from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.targets.model import Target
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.transport.options import Timeouts
from tests.support.dask_cluster import two_worker_cluster

distributed = pytest.importorskip("distributed")

CLUSTER_ADDRESS = "127.35.0.1"
FLEET_ADDRESS = "127.35.1.1"
FAST = Timeouts(connect=2.0, request=2.0, operation=5.0, close=2.0)


@pytest.fixture
def dask_client() -> Iterator[Any]:
    cluster = two_worker_cluster(CLUSTER_ADDRESS)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(base_address=FLEET_ADDRESS, port=5985, hosts=40)
    with fleet_in_thread(config) as running:
        yield running


def _loop_threads() -> list[int | None]:
    import threading  # noqa: PLC0415 (runs on the worker)

    return [t.ident for t in threading.enumerate() if t.name == "psfleet-worker-loop"]


def _loops_closed(client: Any, expected: int, within_s: float = 20.0) -> dict[str, Any]:
    """The workers' `loop-closed` reports: a worker closes after the scheduler let it go."""
    deadline = time.monotonic() + within_s
    while True:
        closed = {
            message["worker"]: {k: message[k] for k in ("thread", "thread_ended", "loop_closed")}
            for _, message in client.get_events(WORKER_TOPIC)
            if message.get("action") == "loop-closed"
        }
        if len(closed) >= expected or time.monotonic() > deadline:
            return closed
        time.sleep(0.1)


def test_a_retired_worker_closes_its_loop_and_leaves_no_shell(
    dask_client: Any, fleet: ThreadedFleet
) -> None:
    targets = [Target(h.name, h.address, h.port) for h in fleet.hosts]
    executor = psfleet.DaskExecutor(dask_client, chunk_size=5)  # 8 chunks: both workers
    result = psfleet.run(
        targets,
        "Get-Service WinRM",
        auth="ntlm",
        credential=("LAB\\admin", DEFAULT_PASSWORD),
        timeouts=FAST,
        throttle=4,
        executor=executor,
    )
    assert result.counts[psfleet.HostStatus.OK] == 40
    threads = dask_client.run(_loop_threads)  # a loop on each worker that ran a chunk
    with_loop = {address: idents[0] for address, idents in threads.items() if idents}
    assert with_loop
    assert all(len(idents) <= 1 for idents in threads.values())

    dask_client.retire_workers(list(threads), close_workers=True)

    expected = {
        address: {"thread": ident, "thread_ended": True, "loop_closed": True}
        for address, ident in with_loop.items()
    }
    assert _loops_closed(dask_client, len(with_loop)) == expected
    assert fleet.stats()["shells_open"] == 0

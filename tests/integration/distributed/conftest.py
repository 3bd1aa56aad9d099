"""A LocalCluster of two worker processes (one thread each) and simulated fleets on 127.25.x.

Workers are processes of their own: the password reaches them through their environment
(PSFLEET_PASSWORD, given to each worker's Nanny), never through the client.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from psfleet.simfleet import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from tests.support.dask_cluster import two_worker_cluster

distributed = pytest.importorskip("distributed")

CLUSTER_ADDRESS = "127.25.0.1"
_networks = itertools.count(1)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A synchronous Client of a LocalCluster(n_workers=2, processes=True)."""
    cluster = two_worker_cluster(CLUSTER_ADDRESS)
    with cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def fleet() -> Iterator[Callable[..., ThreadedFleet]]:
    """`fleet(hosts=N, ...)`: a SimFleet in a thread on the next 127.25.N.1 network."""
    with ExitStack() as stack:

        def start(**settings: Any) -> ThreadedFleet:
            base = f"127.25.{next(_networks)}.1"
            config = SimConfig(**{"base_address": base, "port": 5985, **settings})
            return stack.enter_context(fleet_in_thread(config))

        yield start

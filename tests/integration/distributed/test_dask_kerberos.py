"""Kerberos on Dask workers: each uses the ticket cache of its own environment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import psfleet
from psfleet.testing.kdc import MitKdc
from psfleet.testing.pytest_plugin import SimFleetStarter

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.kerberos
SECOND_HOP = "Invoke-Command -ComputerName node01 { $env:COMPUTERNAME }"


@pytest.fixture
def kerberos_workers(mit_kdc: MitKdc) -> Iterator[Any]:
    """Two worker processes whose environment names the KDC and the forwardable TGT's cache."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.25.0.1",
            dashboard_address=None,
            env=dict(mit_kdc.env),
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_a_forwarded_ticket_from_the_workers_cache_makes_the_second_hop(
    simfleet: SimFleetStarter, mit_kdc: MitKdc, kerberos_workers: Any
) -> None:
    lab = simfleet(hosts=6, kdc=mit_kdc, base_address="127.25.90.1")
    result = psfleet.run(
        lab.targets,
        SECOND_HOP,
        inventory=lab.inventory,
        auth="kerberos",
        credential="kerberos",
        delegate=True,
        executor=psfleet.DaskExecutor(kerberos_workers, chunk_size=3),
    )
    assert {h.host: (h.status, h.error_message) for h in result} == {
        name: (psfleet.HostStatus.OK, None) for name in lab.targets
    }
    assert all(h.output == ["NODE01"] for h in result)
    assert all(lab.stats(name)["auth_failures"] == 0 for name in lab.targets)

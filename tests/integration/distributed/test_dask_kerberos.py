"""Kerberos on Dask workers: each uses the ticket cache of its own environment, or gets one
ticket per worker process from the password in its environment."""

from __future__ import annotations

import time
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


USER, PASSWORD = "dask-kinit@LAB.TEST", "Dask-Passw0rd!"


def as_exchanges(kdc: MitKdc, start: int) -> list[str]:
    """AS exchanges of USER; the NEEDED_PREAUTH answer that opens each one is not counted."""
    return [
        line
        for line in kdc.log_lines(start)
        if "AS_REQ" in line and f" {USER} for krbtgt" in line and "NEEDED_PREAUTH" not in line
    ]


@pytest.fixture
def password_workers(mit_kdc: MitKdc) -> Iterator[Any]:
    """Two worker processes whose environment holds USER's password, and no ticket cache."""
    mit_kdc.add_user(USER, PASSWORD)
    env = {**mit_kdc.env, "KRB5CCNAME": "MEMORY:none", "PSFLEET_PASSWORD": PASSWORD}
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.28.0.1",
            dashboard_address=None,
            env=env,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_a_password_gets_one_ticket_per_worker_process_not_per_chunk(
    simfleet: SimFleetStarter, mit_kdc: MitKdc, password_workers: Any
) -> None:
    lab = simfleet(hosts=12, kdc=mit_kdc, base_address="127.28.1.1")
    start = mit_kdc.log_size()
    for _ in range(2):  # the second run finds each worker's ticket already there
        result = psfleet.run(
            lab.targets,
            "$env:COMPUTERNAME",
            inventory=lab.inventory,
            auth="kerberos",
            credential=(USER, PASSWORD),  # stays here: the workers read their own
            executor=psfleet.DaskExecutor(password_workers, chunk_size=2),
        )
        assert {h.host: h.status for h in result} == {
            name: psfleet.HostStatus.OK for name in lab.targets
        }
    time.sleep(1)  # krb5kdc logs a request just after it answers: let a late line land
    # Two runs of 6 chunks over two worker processes: one AS exchange per process (a
    # ticket per chunk made 12).
    assert 1 <= len(as_exchanges(mit_kdc, start)) <= 2
    assert all(lab.stats(name)["auth_failures"] == 0 for name in lab.targets)

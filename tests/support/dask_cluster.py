"""The tests' Dask cluster: LocalCluster(n_workers=2, processes=True), as the issue asks."""

from __future__ import annotations

from typing import Any

from psfleet.simfleet.accounts import DEFAULT_PASSWORD


def two_worker_cluster(host: str) -> Any:
    """Two worker processes of one thread on `host`; each Nanny starts (and restarts) its
    worker with the demo account's password in PSFLEET_PASSWORD, never in a task."""
    import distributed  # noqa: PLC0415 (the optional extra: tests importorskip it first)

    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host=host,
        dashboard_address=None,
        env={"PSFLEET_PASSWORD": DEFAULT_PASSWORD},
    )

"""A run's last event, from its results: shared by the local scheduler and the Dask merge."""

from __future__ import annotations

from psfleet.events import RunSummary
from psfleet.fanout.result import FleetResult
from psfleet.transport.credentials import CredentialWithheld

WITHHELD = CredentialWithheld.__name__
_SLOWEST = 5


def summarize(result: FleetResult) -> RunSummary:
    slowest = sorted(
        ((h.host, h.duration_s) for h in result.hosts.values()),
        key=lambda pair: pair[1],
        reverse=True,
    )[:_SLOWEST]
    return RunSummary(
        result.counts,
        round(result.wall_s, 6),
        tuple(slowest),
        result.interrupted,
        tuple(result.shells_possibly_open),
        sum(h.error_type == WITHHELD for h in result.hosts.values()),
    )

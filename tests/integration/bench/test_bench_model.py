"""The limit model and the percentile summaries that psfleet bench and the harness report."""

from __future__ import annotations

import pytest

from psfleet.bench.model import LimitModel
from psfleet.bench.stats import percentile, summarize


def test_needed_concurrency_is_latency_over_cpu_per_host() -> None:
    # 7 round trips of 20 ms plus 10 ms of CPU: 150 ms per host, 10 ms of it on the core.
    model = LimitModel(round_trips=7, rtt_s=0.020, cpu_s=0.010)
    assert model.latency_s == pytest.approx(0.150)
    assert model.needed_concurrency() == 15
    assert model.needed_concurrency(cores=2) == 30


def test_below_the_needed_concurrency_latency_bounds_above_it_cpu_does() -> None:
    model = LimitModel(round_trips=7, rtt_s=0.020, cpu_s=0.010)
    assert model.hosts_per_s(5) == pytest.approx(5 / 0.150)
    assert model.limit(5) == "latency"
    assert model.hosts_per_s(256) == pytest.approx(100.0)
    assert model.limit(256) == "cpu"
    assert model.wall_s(1000, 256) == pytest.approx(10.0 + 0.150)


def test_server_time_adds_latency_but_not_client_cpu() -> None:
    model = LimitModel(round_trips=2, rtt_s=0.0, cpu_s=0.002, server_s=0.008)
    assert model.latency_s == pytest.approx(0.010)
    assert model.hosts_per_s(1000) == pytest.approx(500.0)


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([10.0, 20.0], 0.5) == pytest.approx(15.0)
    summary = summarize([float(v) for v in range(1, 101)])
    assert summary is not None
    assert (summary.min, summary.p50, summary.max) == (1.0, 50.5, 100.0)
    assert summary.p95 == pytest.approx(95.05)
    assert summarize([]) is None

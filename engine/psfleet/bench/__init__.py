"""Measurement shared by `psfleet bench` and the benchmark harness (benchmarks/).

bench = await bench_fleet(targets, run_options, ProbePlan(commands=3))
figures = fleet_json(bench)      # what `psfleet bench --json` prints
"""

from psfleet.bench.fleet import FleetBench, bench_fleet
from psfleet.bench.model import LimitModel
from psfleet.bench.probe import DEFAULT_SCRIPT, HostProbe, ProbePlan, probe_host
from psfleet.bench.report import fleet_json, fleet_model
from psfleet.bench.stats import Summary, summarize, summary_json
from psfleet.bench.usage import Usage, usage_now

__all__ = [
    "DEFAULT_SCRIPT",
    "FleetBench",
    "HostProbe",
    "LimitModel",
    "ProbePlan",
    "Summary",
    "Usage",
    "bench_fleet",
    "fleet_json",
    "fleet_model",
    "probe_host",
    "summarize",
    "summary_json",
    "usage_now",
]

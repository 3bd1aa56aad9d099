"""A FleetBench as the figures `psfleet bench --json` prints, fleet totals and per host.

Times are in ms. Latencies cover every host; hosts/s, commands/s and client CPU per
host cover the fan-out; `unloaded` holds the hosts probed one at a time first, which
feed the limit model (`needed_concurrency`, `limit`, `predicted_hosts_per_s`).

`round_trips_per_host` counts the connect as the round trips its time spans (connect / RTT:
TCP, TLS and auth legs, which the client sends out of sight of the request counter) plus
every later WSMan request; the limit model turns it, the RTT and the client CPU per host
into the concurrency they call for.
"""

from __future__ import annotations

from collections import Counter
from statistics import fmean, median
from typing import Any

from psfleet.bench.fleet import FleetBench
from psfleet.bench.model import LimitModel
from psfleet.bench.probe import HostProbe
from psfleet.bench.stats import summarize, summary_json

_MS = 1000.0


def _ms(values: list[float | None]) -> list[float]:
    return [v * _MS for v in values if v is not None]


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(value, digits) if value is not None else None


def _as_ms(seconds: float | None) -> float | None:
    return round(seconds * _MS, 2) if seconds is not None else None


def connect_round_trips(probe: HostProbe) -> float | None:
    """How many round trips the connect took, judged by its time over the host's RTT."""
    if probe.connect_s is None or not probe.rtt_s:
        return None
    return max(1.0, round(probe.connect_s / probe.rtt_s))


def round_trips_per_host(probe: HostProbe) -> float | None:
    connect = connect_round_trips(probe)
    if connect is None:
        return None
    return connect + probe.requests - 1  # the first request is inside the connect


def host_json(probe: HostProbe) -> dict[str, Any]:
    return {
        "host": probe.host,
        "status": probe.status.value,
        "error_type": probe.error_type,
        "error": probe.error,
        "phase": probe.phase,
        "rtt_ms": _as_ms(probe.rtt_s),
        "connect_ms": _as_ms(probe.connect_s),
        "pool_open_ms": _as_ms(probe.pool_open_s),
        "first_command_ms": _as_ms(probe.first_command_s),
        "warm_ms": summary_json(_ms(list(probe.warm_s))),
        "close_ms": _as_ms(probe.close_s),
        "round_trips_per_command": (
            _round(fmean(probe.command_requests)) if probe.command_requests else None
        ),
        "round_trips_per_host": _round(round_trips_per_host(probe)),
        "requests": probe.requests,
        "total_ms": _as_ms(probe.total_s),
        "client_cpu_ms": _as_ms(probe.cpu_s),
    }


def _window(bench: FleetBench) -> tuple[list[HostProbe], float, float]:
    """The fan-out's hosts, wall and CPU; everything when there was no fan-out after all."""
    if bench.loaded:
        return bench.loaded, *bench.end.since(bench.unloaded_end)
    return bench.probes, *bench.end.since(bench.start)


def fleet_model(bench: FleetBench) -> LimitModel | None:
    """The limit model: RTT and round trips are the medians of the hosts probed one at a
    time (the median leaves out the first host's one-time costs: imports, caches). CPU per
    host is the smaller of theirs and the fan-out's: a process that sleeps between bursts
    pays more CPU for the same work (cold caches on wake-up, up to 2x on small VMs), and
    the ceiling is set by the busy cost. Without unloaded hosts, all from the fan-out."""
    window, _, window_cpu_s = _window(bench)
    busy_cpu_s = window_cpu_s / len(window) if window else None
    sample = [p for p in bench.unloaded if p.ok and p.cpu_s is not None]
    if sample:
        alone = median(p.cpu_s for p in sample if p.cpu_s is not None)
        cpu_s = min(alone, busy_cpu_s) if bench.loaded and busy_cpu_s else alone
    else:
        sample = [p for p in window if p.ok]
        cpu_s = busy_cpu_s or 0.0
    rtt = summarize([p.rtt_s for p in sample if p.rtt_s is not None])
    trips = [t for t in (round_trips_per_host(p) for p in sample) if t is not None]
    if rtt is None or not trips:
        return None
    return LimitModel(round_trips=median(trips), rtt_s=rtt.p50, cpu_s=cpu_s)


def _p50_ms(values: list[float | None]) -> float | None:
    summary = summarize(_ms(values))
    return _round(summary.p50) if summary else None


def unloaded_json(bench: FleetBench, model: LimitModel | None) -> dict[str, Any] | None:
    """The hosts probed one at a time: what the limit model is built from."""
    sample = bench.unloaded
    if not sample:
        return None
    ok = [p for p in sample if p.ok]
    return {
        "hosts": len(sample),
        "ok": len(ok),
        "rtt_ms": _p50_ms([p.rtt_s for p in ok]),
        "connect_ms": _p50_ms([p.connect_s for p in ok]),
        "pool_open_ms": _p50_ms([p.pool_open_s for p in ok]),
        "warm_ms": _p50_ms([w for p in ok for w in p.warm_s]),
        "client_cpu_ms_per_host": _p50_ms([p.cpu_s for p in ok]),
        "round_trips_per_host": _round(model.round_trips) if model else None,
    }


def fleet_json(bench: FleetBench) -> dict[str, Any]:
    probes = bench.probes
    ok = [p for p in probes if p.ok]
    window, window_wall_s, window_cpu_s = _window(bench)
    command_requests = [n for p in ok for n in p.command_requests]
    model = fleet_model(bench)
    return {
        "hosts": len(probes),
        "ok": len(ok),
        "script": bench.plan.script,
        "commands": bench.plan.commands,
        "throttle": bench.throttle,
        "auth": bench.auth,
        "wall_s": round(bench.end.wall_s - bench.start.wall_s, 3),
        "rtt_ms": summary_json(_ms([p.rtt_s for p in ok])),
        "connect_ms": summary_json(_ms([p.connect_s for p in ok])),
        "pool_open_ms": summary_json(_ms([p.pool_open_s for p in ok])),
        "first_command_ms": summary_json(_ms([p.first_command_s for p in ok])),
        "warm_ms": summary_json(_ms([w for p in ok for w in p.warm_s])),
        "close_ms": summary_json(_ms([p.close_s for p in ok])),
        "round_trips_per_command": _round(fmean(command_requests)) if command_requests else None,
        "round_trips_per_host": _round(model.round_trips) if model else None,
        # Throughput and CPU of the fan-out (the hosts after the unloaded ones).
        "hosts_per_s": _rate(sum(p.ok for p in window), window_wall_s),
        "commands_per_s": _rate(sum(p.commands_done for p in window), window_wall_s),
        "client_cpu_ms_per_host": round(window_cpu_s / len(window) * _MS, 3) if window else None,
        "peak_rss_mb": round(bench.end.peak_rss_mb, 1),
        "failures": dict(Counter(p.status.value for p in probes if not p.ok)),
        "unloaded": unloaded_json(bench, model),
        "needed_concurrency": model.needed_concurrency() if model else None,
        "limit": model.limit(bench.throttle) if model else None,
        "predicted_hosts_per_s": round(model.hosts_per_s(bench.throttle), 2) if model else None,
        "per_host": [host_json(p) for p in probes],
    }


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 2) if seconds > 0 else None

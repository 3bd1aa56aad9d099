"""psfleet bench against simfleet with 50 ms of injected RTT and one refused host."""

from __future__ import annotations

import json

from .conftest import Lab, run_bench

# Each request also pays for NTLM sealing and XML on both ends: a few ms on this class of machine.
RTT_TOLERANCE_MS = 8.0
KEYS = {
    "hosts",
    "ok",
    "rtt_ms",
    "connect_ms",
    "pool_open_ms",
    "warm_ms",
    "round_trips_per_command",
    "hosts_per_s",
    "commands_per_s",
    "client_cpu_ms_per_host",
    "failures",
    "per_host",
    "needed_concurrency",
}


def test_json_reports_the_injected_rtt_and_warm_latencies(lab: Lab) -> None:
    done = run_bench(lab, "all", "--commands", "3", "--json")
    assert done.returncode == 1, done.stderr  # node04 refuses
    figures = json.loads(done.stdout)
    assert set(figures) >= KEYS
    assert (figures["hosts"], figures["ok"]) == (4, 3)
    assert abs(figures["rtt_ms"]["p50"] - lab.rtt_ms) <= RTT_TOLERANCE_MS, figures["rtt_ms"]
    for key in ("rtt_ms", "connect_ms", "pool_open_ms", "warm_ms"):
        assert {"p50", "p95", "max"} <= set(figures[key])
    assert figures["warm_ms"]["count"] == 3 * 3
    # A warm command is at least a Command and a Receive, each a full round trip.
    assert figures["round_trips_per_command"] >= 2
    assert figures["warm_ms"]["p50"] >= 2 * lab.rtt_ms
    # NTLM: negotiate and authenticate legs at least, then the first request.
    assert figures["connect_ms"]["p50"] >= 2 * lab.rtt_ms
    assert figures["client_cpu_ms_per_host"] > 0
    assert figures["needed_concurrency"] >= 1
    unloaded = figures["unloaded"]  # the limit model's inputs, measured one host at a time
    assert (unloaded["hosts"], unloaded["ok"]) == (3, 3)
    assert abs(unloaded["rtt_ms"] - lab.rtt_ms) <= RTT_TOLERANCE_MS
    assert unloaded["client_cpu_ms_per_host"] > 0


def test_failures_are_counted_by_class_and_shown_per_host(lab: Lab) -> None:
    figures = json.loads(run_bench(lab, "all", "--commands", "1", "--json").stdout)
    assert figures["failures"] == {"unreachable": 1}
    hosts = {h["host"]: h for h in figures["per_host"]}
    assert hosts["node04"]["status"] == "unreachable"
    assert hosts["node04"]["phase"] == "connect"
    assert hosts["node04"]["error_type"] == "ConnectError"
    healthy = hosts["node01"]
    assert healthy["status"] == "ok"
    assert healthy["warm_ms"]["count"] == 1
    assert abs(healthy["rtt_ms"] - lab.rtt_ms) <= RTT_TOLERANCE_MS


def test_zero_warm_repeats_still_measure_connect_and_open(lab: Lab) -> None:
    figures = json.loads(run_bench(lab, "node0[1-2]", "--commands", "0", "--json").stdout)
    assert (figures["hosts"], figures["ok"], figures["failures"]) == (2, 2, {})
    assert figures["warm_ms"] is None
    assert figures["pool_open_ms"]["p50"] >= 2 * lab.rtt_ms  # Create, then Receives


def test_table_names_the_failure_class_and_the_throttle_it_calls_for(lab: Lab) -> None:
    done = run_bench(lab, "all", "--commands", "1", "--throttle", "2")
    assert done.returncode == 1
    out = done.stdout
    assert "3 of 4 hosts ok" in out
    assert "unreachable" in out and "node04" in out
    assert "throttle that keeps one core busy" in out
    assert "warm command" in out


def test_an_empty_script_is_a_usage_error(lab: Lab) -> None:
    done = run_bench(lab, "all", "-c", " ")
    assert done.returncode == 2
    assert "psfleet bench:" in done.stderr

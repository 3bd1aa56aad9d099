"""The limit model checked against the measurements, and where psfleet stands on its goals.

Each tool's inputs come from its own smallest cold case (fewest hosts, lowest RTT):
round trips per host k (the simulator's request counter), client CPU per host c and
server CPU per host s. psfleet.bench.LimitModel then predicts every other cold case
of that tool: hosts/s = min(concurrency / (k*RTT + c + s), 1 / c), and, because
the simulator here has one core for the whole fleet (real hosts do not share one),
also at most 1 / s.
"""

from __future__ import annotations

from typing import Any

from benchmarks.markdown import goal_row
from psfleet.bench.model import LimitModel

Record = dict[str, Any]
_GOALS_RTT_MS = 20.0
_GOAL_COLD_S = 5.0
_GOAL_RATIO = 10.0
_GOAL_WARM_S = 1.5
_GOAL_RSS_MB = 1536.0
_GOAL_CPU_MS = 2.5
_MODEL_RTTS_MS = (0.0, 20.0, 50.0, 100.0, 200.0)


def _cold(records: list[Record], tool: str) -> list[Record]:
    return [
        r
        for r in records
        if r["kind"] == "cold"
        and r["auth"] == "ntlm"
        and r["tool"] == tool
        and r.get("throttle") != 1
        and r.get("client_cpu_ms_per_host")
    ]


def model_for(base: Record) -> LimitModel:
    return LimitModel(
        round_trips=base["round_trips_per_host"],
        rtt_s=0.0,
        cpu_s=base["client_cpu_ms_per_host"] / 1000,
        server_s=base["server_cpu_ms_per_host"] / 1000,
    )


def predict(model: LimitModel, record: Record) -> tuple[float, str]:
    """(hosts/s, what bounds it) for `record`'s fleet, with this harness's one-core simulator."""
    concurrency = min(record["threads"] or record["throttle"], record["hosts"])
    at_rtt = LimitModel(model.round_trips, record["rtt_ms"] / 1000, model.cpu_s, model.server_s)
    client = at_rtt.hosts_per_s(concurrency)
    server = 1 / model.server_s if model.server_s > 0 else float("inf")
    if server < client:
        return server, "server CPU"
    return client, "client CPU" if at_rtt.limit(concurrency) == "cpu" else "latency"


def model_table(records: list[Record]) -> str:
    lines = [
        "| tool | case | inputs k / c ms / s ms | concurrency | predicted hosts/s (bound) "
        "| measured hosts/s | measured / predicted |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    tools = dict.fromkeys(r["tool"] for r in records if r["kind"] == "cold")
    for tool in tools:
        cases = sorted(_cold(records, tool), key=lambda r: (r["hosts"], r["rtt_ms"]))
        if not cases:
            continue
        base, rest = cases[0], cases[1:]
        model = model_for(base)
        inputs = (
            f"{model.round_trips:.1f} / {model.cpu_s * 1000:.2f} / {model.server_s * 1000:.2f}"
            f" (from {base['hosts']} @ {base['rtt_ms']:g} ms)"
        )
        for record in rest:
            rate, bound = predict(model, record)
            measured = record["hosts_per_s"]
            cut = " (cut by the time limit)" if record["status"] == "dnf" else ""
            lines.append(
                f"| {tool} | cold {record['hosts']} @ {record['rtt_ms']:g} ms | {inputs} "
                f"| {min(record['threads'] or record['throttle'], record['hosts'])} "
                f"| {rate:.1f} ({bound}) | {measured:.1f}{cut} | {measured / rate:.2f} |"
            )
    return "\n".join(lines) + "\n\n" + needed_concurrency_table(records)


def needed_concurrency_table(records: list[Record]) -> str:
    cases = sorted(_cold(records, "psfleet"), key=lambda r: (r["hosts"], r["rtt_ms"]))
    if not cases:
        return ""
    model = model_for(cases[0])
    lines = [
        f"psfleet's inputs above (k = {model.round_trips:.1f} round trips, c = "
        f"{model.cpu_s * 1000:.2f} ms client CPU per cold host) call for this concurrency to "
        "keep one client core busy (real hosts: the server's own time adds to latency, "
        "not to the client's CPU):",
        "",
        "| RTT ms | latency per host ms | needed throttle | one core's ceiling hosts/s |",
        "|---:|---:|---:|---:|",
    ]
    for rtt_ms in _MODEL_RTTS_MS:
        at = LimitModel(model.round_trips, rtt_ms / 1000, model.cpu_s)
        lines.append(
            f"| {rtt_ms:g} | {at.latency_s * 1000:.0f} | {at.needed_concurrency()} "
            f"| {1 / model.cpu_s:.0f} |"
        )
    return "\n".join(lines)


def find(records: list[Record], kind: str, hosts: int, tool: str) -> Record | None:
    for r in records:
        if (r["kind"], r["hosts"], r["rtt_ms"], r["tool"], r["auth"]) == (
            kind,
            hosts,
            _GOALS_RTT_MS,
            tool,
            "ntlm",
        ) and r.get("throttle") != 1:
            return r
    return None


def _why(record: Record) -> str:
    return (
        f"{record.get('bound', record['status'])}: client CPU {record['client_cpu_util']:.0%}"
        f" busy, simulator CPU {record['server_cpu_util']:.0%} busy"
        if record.get("client_cpu_util") is not None
        else f"{record['status']}: {record.get('note')}"
    )


def goals_table(records: list[Record]) -> str:
    lines = ["| goal | target | measured | verdict | what limits it |", "|---|---|---|---|---|"]
    lines.append(_cold_goal(records))
    lines.append(_ratio_goal(records))
    lines.append(_warm_goal(records))
    lines.append(_scale_goal(records))
    lines.append(_cpu_goal(records))
    return "\n".join(lines)


def _floor(record: Record) -> str:
    """The wall time one client core needs at this CPU per host, however fast the hosts."""
    seconds = record["hosts"] * record["client_cpu_ms_per_host"] / 1000
    return (
        f"; the client's CPU alone: {record['hosts']} x {record['client_cpu_ms_per_host']:.2f} ms"
        f" = {seconds:.1f} s on one core"
    )


def _cold_goal(records: list[Record]) -> str:
    name = "cold 1000 hosts, RTT 20 ms, NTLM + encryption"
    cold = find(records, "cold", 1000, "psfleet")
    if cold is None or cold.get("wall_s") is None:
        return goal_row(name, f"<= {_GOAL_COLD_S:g} s", "-", None, "")
    met = cold["status"] == "ok" and cold["wall_s"] <= _GOAL_COLD_S
    why = _why(cold) + _floor(cold)
    return goal_row(name, f"<= {_GOAL_COLD_S:g} s", f"{cold['wall_s']:.1f} s", met, why)


def _ratio_goal(records: list[Record]) -> str:
    name = "the same, vs pypsrp with 256 threads"
    ours, theirs = find(records, "cold", 1000, "psfleet"), find(records, "cold", 1000, "pypsrp-256")
    if not ours or not theirs or not ours.get("hosts_per_s") or not theirs.get("hosts_per_s"):
        return goal_row(name, f">= {_GOAL_RATIO:g}x hosts/s", "-", None, "")
    ratio = ours["hosts_per_s"] / theirs["hosts_per_s"]
    client_ratio = theirs["client_cpu_ms_per_host"] / ours["client_cpu_ms_per_host"]
    why = (
        f"{ours['hosts_per_s']:.0f} vs {theirs['hosts_per_s']:.0f} hosts/s; client CPU per "
        f"host {client_ratio:.1f}x lower than pypsrp's, and that ratio is the ceiling"
    )
    if theirs["status"] == "dnf":
        why += (
            f"; pypsrp was cut at {theirs['time_limit_s']:g} s with {theirs['ok']} of "
            f"{theirs['hosts']} hosts done: its rate counts those"
        )
    return goal_row(
        name, f">= {_GOAL_RATIO:g}x hosts/s", f"{ratio:.1f}x", ratio >= _GOAL_RATIO, why
    )


def _warm_goal(records: list[Record]) -> str:
    name = "warm 1000 hosts (pools open), RTT 20 ms"
    warm = find(records, "warm", 1000, "psfleet")
    if warm is None or warm.get("wall_s") is None:
        return goal_row(name, f"<= {_GOAL_WARM_S:g} s", "-", None, "")
    met = warm["status"] == "ok" and warm["wall_s"] <= _GOAL_WARM_S
    why = _why(warm) + _floor(warm)
    return goal_row(name, f"<= {_GOAL_WARM_S:g} s", f"{warm['wall_s']:.2f} s", met, why)


def _scale_goal(records: list[Record]) -> str:
    name = "5000 hosts in one process"
    big = [r for r in records if r["tool"] == "psfleet" and r["hosts"] >= 5000 and r.get("wall_s")]
    target = f"RSS <= {_GOAL_RSS_MB / 1024:g} GB, no fd errors"
    if not big:
        return goal_row(name, target, "-", None, "not in this profile: make bench-full")
    rss = max(r["peak_rss_mb"] for r in big)
    fd_errors = sum((r.get("failures") or {}).get("too_many_open_files", 0) for r in big)
    files = max(r["peak_open_files"] for r in big)
    value = f"peak RSS {rss:.0f} MB, {files} open files, {fd_errors} fd errors"
    ok = all(r["status"] == "ok" for r in big)
    why = "every 5000-host case finished" if ok else "; ".join(_why(r) for r in big)
    return goal_row(name, target, value, rss <= _GOAL_RSS_MB and fd_errors == 0 and ok, why)


def _cpu_goal(records: list[Record]) -> str:
    name = "client CPU per cold host"
    floor = [
        r
        for r in records
        if r["tool"] == "psfleet" and r["kind"] == "cold" and r.get("throttle") == 1
    ]
    fanout = find(records, "cold", 1000, "psfleet")
    values = []
    if floor and floor[0].get("client_cpu_ms_per_host"):
        values.append(f"{floor[0]['client_cpu_ms_per_host']:.2f} ms one at a time")
    if fanout and fanout.get("client_cpu_ms_per_host"):
        values.append(f"{fanout['client_cpu_ms_per_host']:.2f} ms in the 1000-host fan-out")
    if not values:
        return goal_row(name, f"<= {_GOAL_CPU_MS:g} ms", "-", None, "")
    best = min(r["client_cpu_ms_per_host"] for r in [*floor, *([fanout] if fanout else [])] if r)
    why = "see the cold-path profile: where the CPU goes"
    return goal_row(name, f"<= {_GOAL_CPU_MS:g} ms", "; ".join(values), best <= _GOAL_CPU_MS, why)

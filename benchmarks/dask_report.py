"""The Dask cases' table and goals (issue 13), for docs/performance.md's dask block.

Goals, for each `dask-N` case of the run:
- Dask overhead: the scheduler's and the client's CPU together at most 0.2 ms a host (the
  workers do the hosts' work; what the client and scheduler spend is the Dask path's);
- events reach the client's sink within 1 s of the host's answer at p99.
"""

from __future__ import annotations

from typing import Any

from benchmarks.markdown import goal_row, num

Record = dict[str, Any]
_GOAL_OVERHEAD_MS = 0.2
_GOAL_P99_MS = 1000.0


def dask_records(records: list[Record]) -> list[Record]:
    return [r for r in records if r["kind"] == "cold" and r.get("latency_p99_ms") is not None]


def _is_dask(record: Record) -> bool:
    return str(record["tool"]).startswith("dask-")


def table(records: list[Record]) -> str:
    lines = [
        "| case | tool | status | wall s | hosts/s | client CPU ms/host "
        "| scheduler CPU ms/host | workers' CPU ms/host | simulator CPU ms/host "
        "| event latency p50 / p99 ms | bound |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in dask_records(records):
        status = r["status"] if not r.get("note") else f"{r['status']}: {r['note']}"
        lines.append(
            f"| cold {r['hosts']} @ {r['rtt_ms']:g} ms | {r['tool']} | {status} "
            f"| {num(r.get('wall_s'), 2)} | {num(r.get('hosts_per_s'))} "
            f"| {num(r.get('client_cpu_ms_per_host'), 3)} "
            f"| {num(r.get('scheduler_cpu_ms_per_host'), 3)} "
            f"| {num(r.get('workers_cpu_ms_per_host'), 2)} "
            f"| {num(r.get('server_cpu_ms_per_host'), 2)} "
            f"| {num(r.get('latency_p50_ms'))} / {num(r.get('latency_p99_ms'))} "
            f"| {r.get('bound', '-')} |"
        )
    return "\n".join(lines)


def overhead_ms(record: Record) -> float | None:
    """The scheduler's and the client's CPU per host (None: either was not measured)."""
    client = record.get("client_cpu_ms_per_host")
    scheduler = record.get("scheduler_cpu_ms_per_host")
    return None if client is None or scheduler is None else client + scheduler


def goals(records: list[Record]) -> str:
    mine = dask_records(records)
    lines = ["| goal | target | measured | verdict | notes |", "|---|---|---|---|---|"]
    for hosts in sorted({r["hosts"] for r in mine}):
        at = [r for r in mine if r["hosts"] == hosts]
        lines += [_overhead_goal(at, hosts), _latency_goal(at, hosts)]
    return "\n".join(lines)


def _overhead_goal(records: list[Record], hosts: int) -> str:
    name = f"Dask overhead: scheduler + client CPU per host, {hosts} hosts"
    target = f"<= {_GOAL_OVERHEAD_MS:g} ms"
    passes = [(r, ms) for r in records if _is_dask(r) and (ms := overhead_ms(r)) is not None]
    if not passes:
        return goal_row(name, target, "-", None)
    value = ", ".join(
        f"{ms:.3f} ({r['client_cpu_ms_per_host']:.3f} + {r['scheduler_cpu_ms_per_host']:.3f})"
        for r, ms in passes
    )
    local = [r["client_cpu_ms_per_host"] for r in records if r["tool"] == "psfleet"]
    note = "each pass: client + scheduler"
    if local:
        note += f"; local client for the whole host: {', '.join(f'{v:.2f}' for v in local)} ms"
    worst = max(ms for _, ms in passes)
    return goal_row(name, target, value, worst <= _GOAL_OVERHEAD_MS and _all_ok(records), note)


def _latency_goal(records: list[Record], hosts: int) -> str:
    name = f"event latency p99, host's answer to the client's sink, {hosts} hosts"
    target = f"<= {_GOAL_P99_MS:g} ms"
    passes = [r["latency_p99_ms"] for r in records if _is_dask(r)]
    if not passes:
        return goal_row(name, target, "-", None)
    local = [r["latency_p99_ms"] for r in records if r["tool"] == "psfleet"]
    note = f"local: {', '.join(f'{v:.0f}' for v in local)} ms" if local else ""
    value = ", ".join(f"{v:.0f} ms" for v in passes)
    return goal_row(name, target, value, max(passes) <= _GOAL_P99_MS and _all_ok(records), note)


def _all_ok(records: list[Record]) -> bool:
    return all(r["status"] == "ok" for r in records if _is_dask(r))

"""From a results JSON to docs: the plots, and the generated blocks of docs/performance.md.

    python -m benchmarks.report benchmarks/results/quick-20250101-120000.json

docs/performance.md keeps its prose; only the text between `<!-- bench:NAME -->` and
`<!-- /bench:NAME -->` is replaced (run, figures, model, profile, goals; kerberos when the
run has Kerberos cases). A `kerberos` profile's run replaces the kerberos block alone,
a `transfer` profile's the transfer block alone, a `dask` profile's the dask block alone;
they leave the plots and the other blocks to the quick and full profiles.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from benchmarks import dask_report, kerberos_report, plots, transfer_report
from benchmarks.limits import goals_table, model_table
from benchmarks.markdown import num
from benchmarks.supervise import ROOT

DOCS = ROOT / "docs"
DOC = DOCS / "performance.md"
Record = dict[str, Any]


def run_block(results: dict[str, Any], path: Path) -> str:
    m, git, load = results["machine"], results["git"], results["load_before"]
    placement = results["placement"]
    pinned = (
        f"client on CPU {placement['client']}, simulator on CPU {placement['server']}"
        if placement["pinned"]
        else "not pinned"
    )
    dirty = f", plus uncommitted changes in {len(git['changed'])} files" if git["dirty"] else ""
    after = results.get("load_after") or {}
    return "\n".join(
        [
            f"- Results: `{_shown(path)}` (profile `{results['profile']['name']}`, "
            f"`{' '.join(results['command'])}`), {results['started']} to {results['finished']}.",
            f"- Code: commit `{git['commit'][:10]}`{dirty}.",
            f"- Machine: {m['cpu_count']} x {m['cpu_model']}, {m['memory_gib']} GiB, Python "
            f"{m['python']}, {m['os']}; calibration loop {m['calibration_ms']} ms "
            "(lower is faster).",
            f"- Placement: {pinned}.",
            f"- Load average before {_loads(load['loadavg'])}, after "
            f"{_loads(after.get('loadavg'))}; the machine was shared (see `other_cpu_s` per "
            "case in the JSON: CPU seconds other processes used during each measured section).",
        ]
    )


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _loads(values: list[float] | None) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "-"


def figures_table(records: list[Record]) -> str:
    lines = [
        "| case | tool | status | wall s | hosts/s | client CPU ms/host | server CPU ms/host "
        "| round trips/host | peak RSS MB | peak open files | failures | bound |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in records:
        auth = "" if r["auth"] == "ntlm" else f", {r['auth']}"
        throttle = f" (throttle {r['throttle']})" if r.get("throttle") == 1 else ""
        failures = ", ".join(f"{k} {v}" for k, v in (r.get("failures") or {}).items()) or "-"
        status = r["status"] if not r.get("note") else f"{r['status']}: {r['note']}"
        lines.append(
            f"| {r['kind']} {r['hosts']} @ {r['rtt_ms']:g} ms{auth} | {r['tool']}{throttle} "
            f"| {status} | {num(r.get('wall_s'), 2)} | {num(r.get('hosts_per_s'))} "
            f"| {num(r.get('client_cpu_ms_per_host'), 2)} "
            f"| {num(r.get('server_cpu_ms_per_host'), 2)} "
            f"| {num(r.get('round_trips_per_host'))} | {num(r.get('peak_rss_mb'), 0)} "
            f"| {num(r.get('peak_open_files'))} | {failures} | {r.get('bound', '-')} |"
        )
    return "\n".join(lines)


def probe_table(probes: list[dict[str, Any]]) -> str:
    if not probes:
        return "_No `psfleet bench` probe in this run._"
    lines = [
        "| fleet | RTT p50 ms (alone / in the fan-out) | connect p50 ms (alone / fan-out) "
        "| pool open p50 ms (alone / fan-out) | warm p50 ms (alone / fan-out) "
        "| round trips/command | round trips/host (inferred / simulator) "
        "| client CPU ms/host (alone / fan-out) | hosts/s | needed throttle |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for probe in probes:
        f = probe.get("figures")
        fleet = probe["fleet"]
        if f is None:
            lines.append(f"| {fleet['hosts']} @ {fleet['rtt_ms']:g} ms | failed: see JSON |")
            continue
        lines.append(
            f"| {fleet['hosts']} @ {fleet['rtt_ms']:g} ms | {_pair(f, 'rtt_ms')} "
            f"| {_pair(f, 'connect_ms')} | {_pair(f, 'pool_open_ms')} | {_pair(f, 'warm_ms')} "
            f"| {num(f['round_trips_per_command'])} "
            f"| {num(f['round_trips_per_host'])} / {num(probe['server_requests_per_host'])} "
            f"| {_pair(f, 'client_cpu_ms_per_host', 2)} | {num(f['hosts_per_s'])} "
            f"| {num(f['needed_concurrency'])} |"
        )
    return "\n".join(lines)


def _pair(figures: dict[str, Any], key: str, digits: int = 1) -> str:
    """`alone / fan-out`: the one-at-a-time hosts' median, then the whole fan-out's."""
    alone = (figures["unloaded"] or {}).get(key)
    fanout = figures[key]["p50"] if isinstance(figures[key], dict) else figures[key]
    return f"{num(alone, digits)} / {num(fanout, digits)}"


def profile_block(profile: dict[str, Any] | None) -> str:
    if not profile or "layers_ms_per_host" not in profile:
        return "_No cold-path profile in this run._"
    lines = [
        f"{profile['hosts']} cold hosts one at a time (`{profile['script']}`, NTLM with "
        f"encryption, RTT 0): **{profile['cpu_ms_per_host']:.2f} ms of client CPU per host** "
        f"without the profiler ({profile['profiled_cpu_ms_per_host']:.2f} ms under cProfile; "
        "shares below are scaled to the unprofiled figure).",
        "",
        "| layer | ms per host | share |",
        "|---|---:|---:|",
    ]
    total = sum(profile["layers_ms_per_host"].values()) or 1.0
    for layer, ms in profile["layers_ms_per_host"].items():
        lines.append(f"| {layer} | {ms:.3f} | {ms / total:.0%} |")
    if profile.get("phases_ms_per_host"):
        lines += ["", "| phase (cumulative) | ms per host |", "|---|---:|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in profile["phases_ms_per_host"].items()]
    lines += [
        "",
        "| function (self time) | self ms/host | cumulative ms/host | calls/host |",
        "|---|---:|---:|---:|",
    ]
    for row in profile["top"][:15]:
        lines.append(
            f"| `{row['function']}` | {row['self_ms_per_host']:.3f} "
            f"| {row['cumulative_ms_per_host']:.3f} | {row['calls_per_host']:g} |"
        )
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- bench:{name} -->\n).*?(<!-- /bench:{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{DOC} has no <!-- bench:{name} --> block")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def kerberos_block(results: dict[str, Any], path: Path) -> str:
    records: list[Record] = results["cases"]
    return "\n\n".join(
        [
            run_block(results, path),
            kerberos_report.table(records),
            kerberos_report.goals(records),
        ]
    )


def transfer_block(results: dict[str, Any], path: Path) -> str:
    records: list[Record] = results["cases"]
    scale = results["profile"].get("scale", 1.0)
    scaled = f"File sizes x {scale:g} (`--scale`)." if scale != 1.0 else "Full sizes."
    return "\n\n".join(
        [
            run_block(results, path),
            scaled,
            transfer_report.table(records),
            transfer_report.goals(records),
        ]
    )


def dask_block(results: dict[str, Any], path: Path) -> str:
    records: list[Record] = results["cases"]
    return "\n\n".join(
        [run_block(results, path), dask_report.table(records), dask_report.goals(records)]
    )


def write_docs(path: Path) -> list[Path]:
    results = json.loads(path.read_text(encoding="utf-8"))
    records: list[Record] = results["cases"]
    text = DOC.read_text(encoding="utf-8")
    if results["profile"]["name"] == "transfer":  # its own block; its records are not hosts'
        DOC.write_text(replace_block(text, "transfer", transfer_block(results, path)), "utf-8")
        return [DOC]
    if results["profile"]["name"] == "dask":  # its own block: stamped cases, not the figures'
        DOC.write_text(replace_block(text, "dask", dask_block(results, path)), "utf-8")
        return [DOC]
    if kerberos_report.kerberos_records(records):
        text = replace_block(text, "kerberos", kerberos_block(results, path))
    if results["profile"]["name"] == "kerberos":
        DOC.write_text(text, encoding="utf-8")
        return [DOC]
    written = [
        p
        for p in (
            plots.throughput_vs_hosts(records, DOCS / "bench-throughput-hosts.png"),
            plots.throughput_vs_rtt(records, DOCS / "bench-throughput-rtt.png"),
            plots.client_cpu(records, DOCS / "bench-client-cpu.png"),
        )
        if p is not None
    ]
    blocks = {
        "run": run_block(results, path),
        "figures": figures_table(records),
        "probe": probe_table(results["probes"]),
        "model": model_table(records),
        "profile": profile_block(results["cold_profile"]),
        "goals": goals_table(records),
    }
    for name, body in blocks.items():
        text = replace_block(text, name, body)
    DOC.write_text(text, encoding="utf-8")
    return [*written, DOC]


if __name__ == "__main__":
    for written_path in write_docs(Path(sys.argv[1]).resolve()):
        print(f"wrote {written_path}")

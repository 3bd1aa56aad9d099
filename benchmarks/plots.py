"""The PNG plots in docs/: throughput vs hosts, throughput vs RTT, client CPU per host."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt

Record = dict[str, Any]
_GOAL_CPU_MS = 2.5
_FINISHED = ("ok", "failed")
# The same colour for a tool in every plot.
_COLORS = {
    "psfleet": "tab:blue",
    "pypsrp-32": "tab:orange",
    "pypsrp-256": "tab:green",
    "pywinrm-32": "tab:red",
    "pywinrm-256": "tab:purple",
}


def _cold(records: list[Record]) -> list[Record]:
    return [r for r in records if r["kind"] == "cold" and r["auth"] == "ntlm" and r.get("wall_s")]


def _tools(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r["tool"] for r in records if not _is_floor(r)))


def _is_floor(record: Record) -> bool:
    return record["tool"] == "psfleet" and record.get("throttle") == 1


def _line(axes: Any, records: list[Record], x: Callable[[Record], float], tool: str) -> None:
    """One tool's line; a case cut by the time limit is an open marker at its partial rate."""
    mine = sorted((r for r in records if r["tool"] == tool and not _is_floor(r)), key=x)
    if not mine:
        return
    axes.plot(
        [x(r) for r in mine],
        [r["hosts_per_s"] for r in mine],
        marker="o",
        label=tool,
        color=_COLORS.get(tool),
    )
    cut = [r for r in mine if r["status"] not in _FINISHED]
    axes.scatter(
        [x(r) for r in cut],
        [r["hosts_per_s"] for r in cut],
        s=120,
        facecolors="none",
        edgecolors="red",
        zorder=3,
    )


def throughput_vs_hosts(records: list[Record], path: Path) -> Path | None:
    cold = _cold(records)
    rtts = sorted({r["rtt_ms"] for r in cold})
    if not rtts:
        return None
    figure, axes_row = plt.subplots(1, len(rtts), figsize=(5 * len(rtts), 4), squeeze=False)
    for axes, rtt in zip(axes_row[0], rtts, strict=True):
        at_rtt = [r for r in cold if r["rtt_ms"] == rtt]
        for tool in _tools(at_rtt):
            _line(axes, at_rtt, lambda r: r["hosts"], tool)
        sizes = sorted({r["hosts"] for r in at_rtt})
        axes.set_xscale("log")
        axes.set_xticks(sizes, [str(size) for size in sizes])
        axes.minorticks_off()
        axes.set_ylim(bottom=0)
        axes.set_title(f"cold fan-out, RTT {rtt:g} ms")
        axes.set_xlabel("hosts")
        axes.set_ylabel("hosts/s")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    figure.suptitle("Throughput vs fleet size (red ring: did not finish in the time limit)")
    return _save(figure, path)


def throughput_vs_rtt(records: list[Record], path: Path) -> Path | None:
    cold = _cold(records)
    sizes = sorted({r["hosts"] for r in cold if r["hosts"] <= 1000})
    if not sizes:
        return None
    hosts = sizes[-1]
    at_size = [r for r in cold if r["hosts"] == hosts]
    figure, axes = plt.subplots(figsize=(6, 4))
    for tool in _tools(at_size):
        _line(axes, at_size, lambda r: r["rtt_ms"], tool)
    axes.set_ylim(bottom=0)
    axes.set_title(f"Throughput vs RTT, cold fan-out on {hosts} hosts")
    axes.set_xlabel("injected RTT (ms)")
    axes.set_ylabel("hosts/s")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    return _save(figure, path)


def client_cpu(records: list[Record], path: Path) -> Path | None:
    measured = [r for r in records if r.get("client_cpu_ms_per_host") and not _is_floor(r)]
    groups = list(
        dict.fromkeys(
            (r["kind"], r["hosts"], r["rtt_ms"], r["auth"]) for r in measured if r["hosts"] >= 100
        )
    )
    if not groups:
        return None
    tools = _tools(measured)
    width = 0.8 / len(tools)
    figure, axes = plt.subplots(figsize=(max(6, 1.2 * len(groups)), 4.5))
    for index, tool in enumerate(tools):
        heights = []
        for group in groups:
            match = [
                r["client_cpu_ms_per_host"]
                for r in measured
                if (r["kind"], r["hosts"], r["rtt_ms"], r["auth"]) == group and r["tool"] == tool
            ]
            heights.append(match[0] if match else 0.0)
        positions = [g + index * width for g in range(len(groups))]
        axes.bar(positions, heights, width, label=tool, color=_COLORS.get(tool))
    axes.axhline(_GOAL_CPU_MS, color="red", linestyle="--", linewidth=1, label="goal (cold)")
    axes.set_xticks([g + 0.4 - width / 2 for g in range(len(groups))])
    axes.set_xticklabels(
        [f"{k} {h}\n{rtt:g} ms{' ' + a if a != 'ntlm' else ''}" for k, h, rtt, a in groups],
        fontsize=8,
    )
    axes.set_ylabel("client CPU per host (ms)")
    axes.set_title("Client CPU per host (process CPU time / hosts)")
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def _save(figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

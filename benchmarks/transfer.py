"""Issue 14's transfer cases: push (copy) and pull (fetch) of one file across a fleet.

    python -m benchmarks.transfer --size-mb 50 --hosts 20 --rtt 0   # one case per process
    python -m benchmarks.transfer --size-mb 5 --hosts 500 --rtt 20

One JSON line per direction: wall, MB/s across the fleet, client and simulator CPU per
MB moved, wire bytes per payload byte (the simulator's request or response bytes), and
peak RSS of the client (this process) and of the simulator (VmHWM). The simulator runs
as `psfleet sim` in its own process (benchmarks.simulator); each case is a fresh process
so that peak RSS belongs to it. Not yet one of `python -m benchmarks`' profiles.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

import psfleet
from benchmarks.cases import Fleet
from benchmarks.protocol import CREDENTIAL, host_names, loopback_addresses
from benchmarks.simulator import BASE_ADDRESS, Simulator
from psfleet.targets.model import Target

DEST = "C:\\Windows\\Temp\\payload.bin"
MB = 1_000_000


def _client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (the simulator's workers), in MB."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024
    return total / MB


def _measure(sim: Simulator, direction: str, run: Any, payload: int) -> dict[str, Any]:
    before, cpu, sim_cpu, started = sim.counters(), _client_cpu_s(), sim.cpu_s(), time.monotonic()
    result = run()
    wall = time.monotonic() - started
    client_cpu, server_cpu = _client_cpu_s() - cpu, sim.cpu_s() - sim_cpu
    moved = sim.counters().minus(before)
    failed = [f"{h.host}: {h.error_message}" for h in result if not h.ok]
    wire = moved.bytes_in if direction == "push" else moved.bytes_out
    return {
        "direction": direction,
        "ok": not failed,
        "failed": failed[:3],
        "wall_s": round(wall, 2),
        "mb_per_s": round(payload / MB / wall, 2),
        "client_cpu_ms_per_mb": round(client_cpu * 1000 / (payload / MB), 2),
        "sim_cpu_ms_per_mb": round(server_cpu * 1000 / (payload / MB), 2),
        "wire_per_payload_byte": round(wire / payload, 3),
        "client_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "sim_peak_rss_mb": round(_peak_rss_mb(sim.pid), 1),
    }


def run_case(size_mb: float, hosts: int, rtt_ms: float, throttle: int) -> list[dict[str, Any]]:
    names = host_names(hosts)
    targets = [
        Target(n, a, 25985)
        for n, a in zip(names, loopback_addresses(BASE_ADDRESS, hosts), strict=True)
    ]
    settings = {"auth": "ntlm", "credential": CREDENTIAL, "throttle": throttle}
    payload = int(size_mb * MB) * hosts
    with tempfile.TemporaryDirectory() as scratch, open(os.devnull, "w") as log:
        src = Path(scratch) / "payload.bin"
        with src.open("wb") as out:
            for _ in range(int(size_mb)):
                out.write(os.urandom(MB))
        with Simulator(Fleet(hosts, rtt_ms), log, cpus=None) as sim:
            push = _measure(
                sim, "push", lambda: psfleet.copy(targets, src, DEST, **settings), payload
            )
            back = Path(scratch) / "back"
            pull = _measure(
                sim, "pull", lambda: psfleet.fetch(targets, DEST, back, **settings), payload
            )
    case = {"size_mb": size_mb, "hosts": hosts, "rtt_ms": rtt_ms, "throttle": throttle}
    return [case | push, case | pull]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer")
    parser.add_argument("--size-mb", type=float, required=True)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--rtt", type=float, default=0.0)
    parser.add_argument("--throttle", type=int, default=64)
    args = parser.parse_args(argv)
    for record in run_case(args.size_mb, args.hosts, args.rtt, args.throttle):
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

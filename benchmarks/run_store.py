"""What the run store costs a run: `psfleet run` on one simulated fleet, with and without
`--no-store`, in alternating order, in the same session.

    python -m benchmarks.run_store --hosts 5000 --rounds 3
    python -m benchmarks.run_store --hosts 5000 --recorder-only   # the recorder alone

Each run is a `psfleet run all --json` subprocess (as a user runs it); its wall time is
the process's, from start to exit, so the recorder's last write and its close count. The
store is a fresh temporary directory per run. Prints one line per run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

from psfleet.events import Event, HostDone, HostStarted, HostStatus, RecordEvent, RunSummary, Stream
from psfleet.store import PlannedHost, RunPlan, RunRecorder
from psfleet.testing.sim_process import sim_process

BASE_ADDRESS = "127.27.32.1"
PORT = 15985
PASSWORD = "psfleet-demo"
SCRIPT = "$env:COMPUTERNAME; Get-Service WinRM; Write-Warning 'checked'"


def one_run(inventory: Path, state: Path, store: bool, throttle: int) -> tuple[float, float, float]:
    """(process wall seconds, the run's own wall_s from its summary, process CPU seconds).

    CPU time (user + system of the `psfleet run` process, all its threads) is the steadier
    measure on a shared machine: wall time there depends on what else runs.
    """
    command = [
        sys.executable, "-m", "psfleet", "run", "all", "--inventory", str(inventory),
        "-u", "LAB\\admin", "--auth", "ntlm", "--throttle", str(throttle), "--json",
        "-c", SCRIPT,
    ]  # fmt: skip
    if not store:
        command.append("--no-store")
    env = {**os.environ, "PSFLEET_PASSWORD": PASSWORD, "PSFLEET_STATE_DIR": str(state)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = json.loads(done.stdout.splitlines()[-1])
    if summary.get("event") != "summary" or summary["counts"]["ok"] == 0:
        raise RuntimeError(f"the run failed: {done.stderr[-2000:]}")
    return wall, float(summary["wall_s"]), cpu


def recorder_only(hosts: int) -> None:
    """The recorder fed one run's events in this process: its CPU and time to close.

    Each host: HostStarted, an output object (a 10-property dict, as a service's JSON),
    a warning, HostDone; then the summary. CPU is the whole process's, writer thread
    included, so it is what the store adds to a run's client.
    """
    planned = [PlannedHost(f"node{i:05d}", f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
               for i in range(hosts)]  # fmt: skip
    service = {f"Property{n}": f"value {n}" for n in range(10)}
    events: list[Event] = []
    for host in planned:
        events.append(HostStarted(host.name, 1))
        events.append(RecordEvent(host.name, Stream.OUTPUT, service))
        events.append(RecordEvent(host.name, Stream.WARNING, "checked"))
        events.append(HostDone(host.name, HostStatus.OK, 0.1, 1))
    events.append(RunSummary(counts={HostStatus.OK: hosts}, wall_s=1.0))

    async def feed(state: Path) -> tuple[float, float]:
        recorder = await RunRecorder.start(state, RunPlan(["hostname"], planned))
        started = time.perf_counter()
        loop_cpu = time.thread_time()
        for event in events:
            await recorder.handle(event)
        loop_cpu = time.thread_time() - loop_cpu
        await recorder.aclose()
        return loop_cpu, time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="psfleet-store-bench-") as scratch:
        cpu = time.process_time()
        loop_cpu, wall = anyio.run(feed, Path(scratch))
        cpu = time.process_time() - cpu
    print(
        f"{hosts} hosts, {len(events)} events: process CPU {cpu:.3f}s (event loop "
        f"{loop_cpu * 1000:.1f} ms in handle), all written {wall:.3f}s after the first event"
    )


def _percent(value: float, base: float) -> str:
    return f"{100 * (value - base) / base:+.1f}%"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_store")
    parser.add_argument("--hosts", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--throttle", type=int, default=32)
    parser.add_argument("--recorder-only", action="store_true")
    args = parser.parse_args(argv)
    if args.recorder_only:
        recorder_only(args.hosts)
        return 0
    results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="psfleet-store-bench-") as scratch:
        inventory = Path(scratch) / "inventory.yml"
        with sim_process(
            "--hosts", str(args.hosts), "--base-address", BASE_ADDRESS, "--port", str(PORT),
            "--inventory", str(inventory),
        ):  # fmt: skip
            one_run(inventory, Path(scratch) / "warm-up", False, args.throttle)
            for round_ in range(args.rounds):
                order = (True, False) if round_ % 2 == 0 else (False, True)
                for store in order:
                    state = Path(scratch) / f"state-{round_}-{store}"
                    wall, run_wall, cpu = one_run(inventory, state, store, args.throttle)
                    size = (state / "runs.db").stat().st_size if store else 0
                    label = "store   " if store else "no-store"
                    print(f"round {round_} {label} process {wall:7.2f}s  run {run_wall:7.2f}s  "
                          f"cpu {cpu:7.2f}s  db {size / 1e6:6.1f} MB", flush=True)  # fmt: skip
                    results[store].append((wall, run_wall, cpu))
    for index, what in enumerate(("process wall", "run wall_s", "process CPU")):
        with_store = statistics.median(r[index] for r in results[True])
        without = statistics.median(r[index] for r in results[False])
        print(
            f"median {what}: store {with_store:.2f}s, --no-store {without:.2f}s "
            f"({_percent(with_store, without)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

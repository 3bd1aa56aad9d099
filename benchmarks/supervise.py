"""Run one case in a child process and turn what happened into one result record.

While the child runs, its open files and RSS are sampled (peaks); at its `start` and
`end` marks the simulator's CPU and request counters, the machine's busy time and
the load average are snapshotted, so server CPU, round trips per host and the CPU
other processes took all cover exactly the measured section. A child that
outlives its hard limit is killed, and that is the result. Kerberos cases run as a
principal of their own on the fleet's KDC, whose log then counts their AS and TGS
requests.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from benchmarks.cases import KDC_AUTHS, Case
from benchmarks.kdc import KdcRequests, clean_env
from benchmarks.placement import Placement
from benchmarks.protocol import CREDENTIAL, ChildSpec, parse
from benchmarks.simulator import SimCounters, Simulator
from benchmarks.tools.outcome import NOT_FINISHED, NOT_STARTED

ROOT = Path(__file__).resolve().parent.parent
_SAMPLE_S = 0.1
_GRACE_S = 120.0  # in-flight requests of a stopped peer end within their own timeouts
_EOF = ""
_BUSY = ("user", "nice", "system", "irq", "softirq")  # guest time is inside user already
_SATURATED = 0.85  # a CPU this busy over the section is the bottleneck
_SHARED = 0.5  # other processes using this many cores make the section's wall time suspect


@dataclass(frozen=True, slots=True)
class Snapshot:
    sim_cpu_s: float
    counters: SimCounters
    machine_busy_s: float
    ours_cpu_s: float  # the child's and this process's CPU
    kdc_cpu_s: float  # krb5kdc's, when the fleet has a KDC
    load: tuple[float, float, float]


def spec_for(case: Case, sim: Simulator, placement: Placement, user: str) -> ChildSpec:
    return ChildSpec(
        kind=case.kind,
        tool=case.tool.name,
        threads=case.tool.threads,
        hosts=case.fleet.hosts,
        base_address=sim.base_address,
        port=sim.port,
        tls=case.fleet.tls,
        ca_file=sim.ca_file,
        auth=case.auth,
        user=user,
        script=case.script,
        expected_objects=case.expected_objects,
        time_limit_s=case.time_limit_s,
        throttle=case.psfleet_throttle,
        cpus=placement.client,
    )


def run_case(case: Case, sim: Simulator, placement: Placement) -> dict[str, Any]:
    kdc = sim.kdc if case.auth in KDC_AUTHS else None
    if case.auth in KDC_AUTHS and kdc is None:
        raise ValueError(f"{case.name}: its fleet has no KDC")
    user = kdc.new_user() if kdc is not None else CREDENTIAL[0]
    hard_limit = case.time_limit_s * (2 if case.kind == "warm" else 1) + _GRACE_S
    with (
        tempfile.TemporaryFile("w+") as log,
        tempfile.TemporaryDirectory(prefix="psfleet-bench-") as scratch,
    ):
        env = clean_env() | (kdc.client_env(Path(scratch)) if kdc is not None else {})
        mark = kdc.mark() if kdc is not None else (0, 0.0)
        watch = _Watch(spec_for(case, sim, placement, user), log, sim, env)
        watch.follow(hard_limit)
        requests = kdc.requests(mark, user) if kdc is not None else None
        log.seek(0)
        tail = log.read()[-1500:]
    return record(case, watch, placement, tail, requests)


class _Watch:
    """The child process, its marked lines, and the peaks sampled while it ran."""

    def __init__(self, spec: ChildSpec, log: IO[str], sim: Simulator, env: dict[str, str]) -> None:
        self.sim = sim
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.child", spec.to_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self.child = psutil.Process(self.process.pid)
        self.lines: queue.Queue[str] = queue.Queue()
        self.marks: dict[str, Snapshot] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.peak_open_files = 0
        self.peak_rss_mb = 0.0
        self.killed_after_s: float | None = None
        self.failure: str | None = None  # the harness could not read the simulator
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(_EOF)

    def follow(self, hard_limit_s: float) -> None:
        started = time.monotonic()
        while True:
            try:
                line = self.lines.get(timeout=_SAMPLE_S)
            except queue.Empty:
                line = None
            if line == _EOF:
                break
            self._sample()
            try:
                if line is not None:
                    self._handle(line)
            except OSError as exc:  # the simulator stopped answering: end the case here
                self.failure = f"simulator unreadable: {exc}"
                self.process.kill()
                break
            if time.monotonic() - started > hard_limit_s:
                self.process.kill()
                self.killed_after_s = hard_limit_s
                break
        self.process.wait()

    def _handle(self, line: str) -> None:
        message = parse(line)
        if message is None:
            return
        event = message.pop("event")
        if event in ("start", "end"):
            self.marks[event] = self._snapshot()
            assert self.process.stdin is not None
            self.process.stdin.write("go\n")
            self.process.stdin.flush()
        else:
            self.messages[event] = message

    def _sample(self) -> None:
        try:
            self.peak_open_files = max(self.peak_open_files, self.child.num_fds())
            self.peak_rss_mb = max(self.peak_rss_mb, self.child.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            return

    def _snapshot(self) -> Snapshot:
        machine = psutil.cpu_times()
        child = self.child.cpu_times()
        own = psutil.Process().cpu_times()
        return Snapshot(
            sim_cpu_s=self.sim.cpu_s(),
            counters=self.sim.counters(),
            machine_busy_s=sum(getattr(machine, name) for name in _BUSY),
            ours_cpu_s=child.user + child.system + own.user + own.system,
            kdc_cpu_s=self.sim.kdc.cpu_s() if self.sim.kdc is not None else 0.0,
            load=os.getloadavg(),
        )


def record(
    case: Case,
    watch: _Watch,
    placement: Placement,
    log_tail: str,
    kdc_requests: KdcRequests | None = None,
) -> dict[str, Any]:
    result = watch.messages.get("result")
    cleanup = watch.messages.get("cleanup")
    figures: dict[str, Any] = {
        "peak_open_files": watch.peak_open_files,
        "peak_rss_sampled_mb": round(watch.peak_rss_mb, 1),
        "close_s": _round(cleanup["close_s"]) if cleanup else None,
        # Measured, then killed while closing what it had opened: the close took too long.
        "teardown_killed_after_s": watch.killed_after_s if result else None,
        # The whole case's (its principal's lines): the KDC log has no section marks.
        "kdc": kdc_requests.as_json() if kdc_requests is not None else None,
    }
    if result is None or "start" not in watch.marks or "end" not in watch.marks:
        status = "killed" if watch.killed_after_s else "crashed"
        note = (
            f"killed after {watch.killed_after_s:g} s without a result"
            if watch.killed_after_s
            else watch.failure or f"exited {watch.process.returncode}: {log_tail.strip()[-500:]}"
        )
        return case.as_json() | figures | {"status": status, "note": note}
    return case.as_json() | figures | _measured(case, result, watch, placement)


def _measured(
    case: Case, result: dict[str, Any], watch: _Watch, placement: Placement
) -> dict[str, Any]:
    start, end = watch.marks["start"], watch.marks["end"]
    hosts = case.fleet.hosts
    wall, client_cpu = result["wall_s"], result["cpu_s"]
    server_cpu = end.sim_cpu_s - start.sim_cpu_s
    counters = end.counters.minus(start.counters)
    kdc_cpu = end.kdc_cpu_s - start.kdc_cpu_s
    other_cpu = (end.machine_busy_s - start.machine_busy_s) - server_cpu - kdc_cpu
    other_cpu -= end.ours_cpu_s - start.ours_cpu_s
    workers_cpu, scheduler_cpu = result.get("workers_cpu_s"), result.get("scheduler_cpu_s")
    other_cpu -= (workers_cpu or 0.0) + (scheduler_cpu or 0.0)
    failures: dict[str, int] = result["failures"]
    done = result["ok"] + sum(
        n for name, n in failures.items() if name not in (NOT_STARTED, NOT_FINISHED)
    )
    client_util = client_cpu / wall if wall else 0.0
    server_util = server_cpu / wall if wall else 0.0
    status = "dnf" if result["dnf"] else ("ok" if result["ok"] == hosts else "failed")
    return {
        "status": status,
        "note": f"did not finish in {case.time_limit_s:g} s: {result['ok']} of {hosts} hosts ok"
        if result["dnf"]
        else None,
        "wall_s": _round(wall),
        "ok": result["ok"],
        "done": done,
        "failures": failures,
        "errors": result["errors"],
        "hosts_per_s": _round(result["ok"] / wall if wall else None),
        "client_cpu_s": _round(client_cpu),
        "client_cpu_ms_per_host": _round(client_cpu / max(done, 1) * 1000),
        # dask-N: the workers' processes (and their nannies'), the scheduler's process.
        "workers_cpu_ms_per_host": _per_host_ms(workers_cpu, done),
        "scheduler_cpu_ms_per_host": _per_host_ms(scheduler_cpu, done),
        "latency_p50_ms": _round(result.get("latency_p50_ms"), 1),
        "latency_p99_ms": _round(result.get("latency_p99_ms"), 1),
        "server_cpu_s": _round(server_cpu),
        "server_cpu_ms_per_host": _round(server_cpu / max(done, 1) * 1000),
        "client_cpu_util": _round(client_util),
        "server_cpu_util": _round(server_util),
        "round_trips_per_host": _round(counters.requests / max(done, 1)),
        "kb_per_host": _round((counters.bytes_in + counters.bytes_out) / max(done, 1) / 1024),
        "server_counters": _fields(counters),
        "kdc_cpu_ms_per_host": _round(kdc_cpu / max(done, 1) * 1000) if case.fleet.kdc else None,
        # psfleet's event loop: its longest wait to run a callback (None: not an asyncio tool).
        "longest_stall_s": _round(result.get("longest_stall_s")),
        "stalled_stack": result.get("stalled_stack"),
        "peak_rss_mb": _round(result["peak_rss_mb"]),
        "rss_at_start_mb": _round(result["rss_at_start_mb"]),
        "open_s": _round(result["open_s"]),
        "open_failures": result["open_failures"],
        "bound": _bound(
            status, client_util, server_util, other_cpu / wall if wall else 0.0, placement
        ),
        "other_cpu_s": _round(max(other_cpu, 0.0)),
        "load_at_start": start.load,
        "load_at_end": end.load,
    }


def _bound(
    status: str, client_util: float, server_util: float, other_util: float, placement: Placement
) -> str:
    """What limited the section: the time limit, the client's CPU, the server's, other
    processes taking the CPUs, or none of them (latency: more concurrency would help)."""
    if status == "dnf":
        return "time limit"
    if client_util >= _SATURATED * placement.cores(placement.client):
        return "client CPU"
    if server_util >= _SATURATED * placement.cores(placement.server):
        return "server CPU"
    if other_util >= _SHARED:
        return f"shared machine: others used {other_util:.1f} cores"
    return "latency"


def _per_host_ms(cpu_s: float | None, done: int) -> float | None:
    return _round(cpu_s / max(done, 1) * 1000) if cpu_s is not None else None


def _fields(counters: SimCounters) -> dict[str, int]:
    return {name: getattr(counters, name) for name in SimCounters.__slots__}


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None

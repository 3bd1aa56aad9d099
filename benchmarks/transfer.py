"""Issue 14's transfer cases, `python -m benchmarks --profile transfer`: push (copy) and pull
(fetch) of one random file across a simulated fleet, psfleet next to pypsrp 0.9.1 at 32
threads (benchmarks.transfer_pypsrp: a model of its copy and fetch, run by pypsrp).

    python -m benchmarks --profile transfer                # the issue's sizes
    python -m benchmarks --profile transfer --scale 0.02   # 1 MB / 100 KB files: a dev run

Per case: a fresh `psfleet sim` (its peak RSS is the case's), then one child process per
direction (benchmarks.transfer_child), push first, then pull of what was pushed. Figures:
wall, MB/s across the fleet (file size x hosts / wall), client and simulator CPU per MB
moved, wire bytes per payload byte (the simulator's request bytes on push, response bytes
on pull), peak RSS of the child and of the simulator (VmHWM, reset between directions).
The `rss` cases push and pull 10, 100 and 500 MB to one host: memory must stay flat.
The `scaling` cases push and pull one 5 MB file to 1, 20 and 100 hosts: the client's CPU
for N hosts against N times its CPU for one (shared encoding, benchmarks.transfer_report).
Every case authenticates with NTLM and seals each message (RC4 + HMAC-MD5 per host, about
7 ms of CPU per MB on each end), except the `basic-https` pair: 50 MB to 20 hosts with
Basic over TLS, where AES seals and both tools meet the same `psfleet sim --tls`.
"""

from __future__ import annotations

import datetime
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from benchmarks import machine
from benchmarks.cases import Fleet
from benchmarks.kdc import clean_env
from benchmarks.placement import Placement, pinned
from benchmarks.protocol import parse
from benchmarks.run import header, save, say
from benchmarks.simulator import Simulator
from benchmarks.supervise import ROOT

MB = 1_000_000
DEST = "C:\\Windows\\Temp\\payload.bin"
BASE_ADDRESS = "127.34.128.1"  # not the other profiles' fleet: both may run on one machine
THROTTLE = 64
PYPSRP = "pypsrp-32"
# Windows Server 2012 R2 and later: MaxEnvelopeSizekb 500. pypsrp 0.9.1 assumes it of any
# host that speaks protocol 2.2 or later (and fails on smaller ones); psfleet reads it.
SIM_ARGS = ("--max-envelope-size", "512000")
_GRACE_S = 60.0
# One file size to more and more hosts: client CPU for N hosts against N x its CPU for one.
SCALING_MB = 5.0
SCALING_HOSTS = (1, 20, 100)
NTLM, HTTPS = "ntlm", "basic-https"  # benchmarks.cases.Auth's names


@dataclass(frozen=True, slots=True)
class TransferCase:
    group: str  # fleet: the throughput grid; rss: one host, growing files; scaling: more hosts
    tool: str  # psfleet or pypsrp-32
    size_mb: float
    hosts: int
    rtt_ms: float
    time_limit_s: float
    auth: str = NTLM  # or HTTPS: Basic over TLS

    @property
    def name(self) -> str:
        over = "" if self.auth == NTLM else f" {self.auth}"
        return (
            f"transfer {self.size_mb:g} MB to {self.hosts} hosts rtt {self.rtt_ms:g} ms{over} "
            f"[{self.tool}]"
        )


def cases(scale: float) -> list[TransferCase]:
    """The issue's grid, file sizes multiplied by scale (hosts and RTTs as they are)."""
    grid = [
        TransferCase("fleet", tool, size * scale, hosts, rtt, 900.0)
        for size, hosts in ((50.0, 20), (5.0, 500))
        for rtt in (0.0, 20.0)
        for tool in ("psfleet", PYPSRP)
    ]
    grid += [
        TransferCase("fleet", tool, 50.0 * scale, 20, 0.0, 900.0, HTTPS)
        for tool in ("psfleet", PYPSRP)
    ]
    rss = [TransferCase("rss", "psfleet", size * scale, 1, 0.0, 900.0) for size in (10, 100, 500)]
    scaling = [
        TransferCase("scaling", "psfleet", SCALING_MB * scale, hosts, 0.0, 900.0)
        for hosts in SCALING_HOSTS
    ]
    return grid + rss + scaling


def select(
    all_cases: list[TransferCase],
    tools: set[str] | None,
    hosts: set[str] | None,
    rtts: set[str] | None,
    auths: set[str] | None = None,
) -> list[TransferCase]:
    return [
        c
        for c in all_cases
        if (tools is None or c.tool in tools)
        and (hosts is None or str(c.hosts) in hosts)
        and (rtts is None or f"{c.rtt_ms:g}" in rtts)
        and (auths is None or c.auth in auths)
    ]


def _random_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for start in range(0, size, MB):
            out.write(os.urandom(min(MB, size - start)))


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _reset_vm_hwm(pid: int) -> None:
    """Linux's peak RSS restarts from the current RSS (clear_refs 5): each direction's own."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def run_transfer(
    cases_: list[TransferCase],
    placement: Placement,
    out_dir: Path,
    command: list[str],
    scale: float,
) -> Path:
    document = header(TransferProfile(cases_, scale), placement, command)  # type: ignore[arg-type]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"transfer-{stamp}.json"
    save(path, document)
    for number, case in enumerate(cases_, 1):
        say(f"[{number}/{len(cases_)}] {case.name} ...")
        for record in _run_case(case, placement):
            code = machine.git()
            record["code"] = {"commit": code["commit"], "changed": len(code["changed"])}
            document["cases"].append(record)
            say(f"    {_one_line(record)}")
            save(path, document)
    document["load_after"] = machine.load()
    document["finished"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    save(path, document)
    return path


@dataclass(frozen=True, slots=True)
class TransferProfile:
    """What the results' header says of the run (benchmarks.run.header asks for as_json)."""

    cases: list[TransferCase]
    scale: float

    def as_json(self) -> dict[str, Any]:
        return {"name": "transfer", "cases": len(self.cases), "scale": self.scale}


def _one_line(r: dict[str, Any]) -> str:
    if r.get("wall_s") is None:
        return f"{r['status']}: {r.get('note')}"
    return (
        f"{r['direction']} {r['status']}, {r['wall_s']:.1f} s, {r['mb_per_s']:.1f} MB/s, client "
        f"{r['client_cpu_ms_per_mb']:.1f} ms/MB, sim {r['sim_cpu_ms_per_mb']:.1f} ms/MB, wire "
        f"{r['wire_per_payload_byte']:.3f}x, RSS client {r['client_peak_rss_mb']:.0f} MB sim "
        f"{r['sim_peak_rss_mb']:.0f} MB"
    )


def _run_case(case: TransferCase, placement: Placement) -> list[dict[str, Any]]:
    size = int(case.size_mb * MB)
    base = asdict(case) | {
        "size_bytes": size,
        "throttle": THROTTLE if case.tool == "psfleet" else None,
    }
    with (
        tempfile.TemporaryDirectory(prefix="psfleet-transfer-bench-") as scratch,
        tempfile.TemporaryFile("w+") as log,
    ):
        src = Path(scratch) / "payload.bin"
        _random_file(src, size)
        fleet = Fleet(case.hosts, case.rtt_ms, tls=case.auth == HTTPS)
        try:
            with Simulator(
                fleet, log, cpus=placement.server, base_address=BASE_ADDRESS, extra_args=SIM_ARGS
            ) as sim:
                spec = {
                    "tool": case.tool,
                    "auth": case.auth,
                    "ca_file": sim.ca_file,
                    "threads": 32 if case.tool == PYPSRP else None,
                    "hosts": case.hosts,
                    "base_address": BASE_ADDRESS,
                    "port": sim.port,
                    "throttle": THROTTLE,
                    "size": size,
                    "src": str(src),
                    "dest": DEST,
                    "fetch_dir": str(Path(scratch) / "fetched"),
                }
                return [
                    base | _direction(sim, spec | {"direction": d}, case, placement, size)
                    for d in ("push", "pull")
                ]
        except RuntimeError as exc:  # the simulator did not start
            return [
                base | {"direction": d, "status": "not run", "note": str(exc)}
                for d in ("push", "pull")
            ]


def _direction(
    sim: Simulator, spec: dict[str, Any], case: TransferCase, placement: Placement, size: int
) -> dict[str, Any]:
    _reset_vm_hwm(sim.pid)
    command = pinned(
        [sys.executable, "-m", "benchmarks.transfer_child", json.dumps(spec)], placement.client
    )
    with tempfile.TemporaryFile("w+") as log:  # a file: a full stderr pipe would stall it
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True, cwd=ROOT, env=clean_env(),
        )  # fmt: skip
        return _follow(process, log, sim, spec, case, size)


def _follow(
    process: subprocess.Popen[str],
    log: IO[str],
    sim: Simulator,
    spec: dict[str, Any],
    case: TransferCase,
    size: int,
) -> dict[str, Any]:
    deadline = time.monotonic() + case.time_limit_s + _GRACE_S
    marks: dict[str, tuple[float, Any]] = {}
    result: dict[str, Any] | None = None
    assert process.stdin is not None and process.stdout is not None
    while result is None:
        message = _next_message(process.stdout, deadline)
        if message is None:
            process.kill()
            process.communicate()
            log.seek(0)
            status = "dnf" if time.monotonic() >= deadline else "failed"
            note = f"cut at {case.time_limit_s:g} s" if status == "dnf" else log.read()[-1500:]
            return {"direction": spec["direction"], "status": status, "note": note}
        if message["event"] in ("start", "end"):
            marks[message["event"]] = (sim.cpu_s(), sim.counters())
            process.stdin.write("go\n")
            process.stdin.flush()
        elif message["event"] == "result":
            result = message
    process.communicate()
    sim_cpu = marks["end"][0] - marks["start"][0]
    moved = marks["end"][1].minus(marks["start"][1])
    payload = size * case.hosts
    wire = moved.bytes_in if spec["direction"] == "push" else moved.bytes_out
    mb = payload / MB
    return {
        "direction": spec["direction"],
        "status": "ok" if result["failed"] == 0 else "failed",
        "note": "; ".join(result["failures"]) or None,
        "failed_hosts": result["failed"],
        "wall_s": round(result["wall_s"], 3),
        "mb_per_s": round(mb / result["wall_s"], 2),
        "client_cpu_s": round(result["client_cpu_s"], 3),
        "client_cpu_ms_per_mb": round(result["client_cpu_s"] * 1000 / mb, 2),
        "client_cpu_ms_per_file_mb": round(result["client_cpu_s"] * 1000 / (size / MB), 2),
        "sim_cpu_ms_per_mb": round(sim_cpu * 1000 / mb, 2),
        "wire_bytes": wire,
        "wire_per_payload_byte": round(wire / payload, 3),
        "client_peak_rss_mb": round(result["client_peak_rss_mb"], 1),
        "sim_peak_rss_mb": round(_vm_hwm_mb(sim.pid), 1),
        "other_load": machine.load()["loadavg"],
    }


def _next_message(stdout: IO[str], deadline: float) -> dict[str, Any] | None:
    """The child's next marked line, or None when it ended or ran out of time."""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return None
            line = stdout.readline()
            if not line:
                return None
            message = parse(line)
            if message is not None:
                return message

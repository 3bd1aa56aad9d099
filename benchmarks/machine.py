"""What a result depends on besides the code: machine, versions, commit, load, CPU speed."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import psutil

from benchmarks.supervise import ROOT
from psfleet import eventloop

PACKAGES = (
    "psfleet",
    "pypsrp",
    "pywinrm",
    "aiohttp",
    "psrpcore",
    "pyspnego",
    "requests",
    "anyio",
    "uvloop",
)
_CALIBRATION_LOOPS = 2_000_000


def machine() -> dict[str, Any]:
    return {
        "cpu_count": psutil.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": platform.platform(),
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "calibration_ms": calibration_ms(),
        "event_loop": eventloop.loop_name(),  # psfleet's, in its client and in simfleet
    }


def calibration_ms() -> float:
    """A fixed pure-Python loop (best of 3): compare machines, or one machine under load."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for i in range(_CALIBRATION_LOOPS):
            total += i & 7
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def git() -> dict[str, Any]:
    """The commit, and the files that differ from it: results measure the tree as it was."""

    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = [line[3:] for line in run("status", "--porcelain").splitlines() if line]
    return {
        "commit": run("rev-parse", "HEAD"),
        "branch": run("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(changed),
        "changed": changed,
    }


def load() -> dict[str, Any]:
    """The load average and the busiest other processes, to judge how shared the machine was."""
    own = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    busy = []
    for process in psutil.process_iter(["pid", "name", "cmdline", "cpu_percent"]):
        if process.info["pid"] in own:
            continue
        busy.append(process)
    time.sleep(0.5)  # cpu_percent needs an interval
    top = []
    for process in busy:
        try:
            percent = process.cpu_percent()
            command = " ".join(process.info["cmdline"] or [process.info["name"] or ""])
        except psutil.NoSuchProcess:
            continue
        if percent >= 5.0:
            top.append({"cpu_percent": percent, "command": command[:160]})
    top.sort(key=lambda entry: -float(entry["cpu_percent"]))
    return {"loadavg": os.getloadavg(), "busy_processes": top[:5]}

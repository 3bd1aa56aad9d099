"""This process's resource use from the standard library: CPU time, peak RSS, open files."""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass

_FD_DIR = "/proc/self/fd"
_STATUS = "/proc/self/status"


@dataclass(frozen=True, slots=True)
class Usage:
    wall_s: float  # a monotonic clock, only differences mean anything
    cpu_s: float  # user + system time of every thread of this process
    peak_rss_mb: float  # the high-water mark since the process started
    open_files: int | None  # None where /proc is missing

    def since(self, start: Usage) -> tuple[float, float]:
        """(wall, cpu) seconds between `start` and this snapshot."""
        return self.wall_s - start.wall_s, self.cpu_s - start.cpu_s


def usage_now() -> Usage:
    return Usage(
        wall_s=time.perf_counter(),
        cpu_s=time.process_time(),
        peak_rss_mb=peak_rss_mb(),
        open_files=open_files(),
    )


def peak_rss_mb() -> float:
    """VmHWM where Linux has it: ru_maxrss survives exec, so it can be the parent's peak."""
    try:
        with open(_STATUS, encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def open_files() -> int | None:
    try:
        return len(os.listdir(_FD_DIR)) - 1  # the listing's own descriptor
    except OSError:
        return None


def raise_open_file_limit() -> int:
    """Lift the soft fd limit to the hard one, as any many-host client must; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard

"""What a tool's run produced, and the helpers every tool shares to produce it."""

from __future__ import annotations

import errno
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from benchmarks.protocol import sync

OK = "ok"
NOT_STARTED = "not_started"  # the time limit came first
NOT_FINISHED = "not_finished"
NO_OUTPUT = "no_output"  # the tool said ok but the expected objects did not arrive
TOO_MANY_OPEN_FILES = "too_many_open_files"
_KEPT_ERRORS = 3

T = TypeVar("T")


@dataclass(slots=True)
class Outcome:
    ok: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # a few distinct messages, for the report
    wall_s: float = 0.0
    cpu_s: float = 0.0
    dnf: bool = False  # the time limit cut the measured section short
    open_s: float | None = None  # warm cases: opening the pools, before the measured section
    open_failures: int = 0
    rss_at_start_mb: float = 0.0
    longest_stall_s: float | None = None  # the event loop's, for a tool that has one
    stalled_stack: str | None = None  # where the loop was during that stall, if it was long
    workers_cpu_s: float | None = None  # a Dask run: its worker processes' CPU in the section
    scheduler_cpu_s: float | None = None  # a Dask run whose scheduler has a process of its own
    latency_p50_ms: float | None = None  # a stamped case: a host's answer to the client's sink
    latency_p99_ms: float | None = None

    def add(self, result: str, message: str | None = None) -> None:
        if result == OK:
            self.ok += 1
            return
        self.failures[result] += 1
        if message and len(self.errors) < _KEPT_ERRORS and message not in self.errors:
            self.errors.append(message[:300])

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failures": dict(self.failures),
            "errors": self.errors,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "dnf": self.dnf,
            "open_s": self.open_s,
            "open_failures": self.open_failures,
            "rss_at_start_mb": self.rss_at_start_mb,
            "longest_stall_s": self.longest_stall_s,
            "stalled_stack": self.stalled_stack,
            "workers_cpu_s": self.workers_cpu_s,
            "scheduler_cpu_s": self.scheduler_cpu_s,
            "latency_p50_ms": self.latency_p50_ms,
            "latency_p99_ms": self.latency_p99_ms,
            "peak_rss_mb": peak_rss_mb(),
        }


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, because ru_maxrss survives exec (the harness's own
    peak would show). Duplicates psfleet.bench.usage so that peers never import psfleet."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def measured(outcome: Outcome) -> Iterator[None]:
    """The measured section: wall time and process CPU (every thread's).

    The parent snapshots the simulator at both ends, so its figures cover the same section.
    """
    outcome.rss_at_start_mb = peak_rss_mb()
    sync("start")
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        outcome.wall_s = time.perf_counter() - wall
        outcome.cpu_s = time.process_time() - cpu
        sync("end")


def failure_class(error: BaseException | str, name: str | None = None) -> str:
    """The error's type name, except running out of file descriptors, which is named as such."""
    emfile = isinstance(error, OSError) and error.errno == errno.EMFILE
    if emfile or "Too many open files" in str(error):
        return TOO_MANY_OPEN_FILES
    return name or type(error).__name__


def fan_out(
    items: list[T], threads: int, work: Callable[[T], bool], deadline: float, outcome: Outcome
) -> None:
    """Run `work` on every item with a thread pool, as the peers' users do; no new item starts
    after `deadline` (time.monotonic), so a slow peer stops by itself."""

    def guarded(item: T) -> tuple[str, str | None]:
        if time.monotonic() > deadline:
            return NOT_STARTED, None
        try:
            return (OK, None) if work(item) else (NO_OUTPUT, None)
        except Exception as exc:
            return failure_class(exc), f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(threads) as pool:
        for result, message in pool.map(guarded, items):
            outcome.add(result, message)
    outcome.dnf = outcome.failures[NOT_STARTED] > 0

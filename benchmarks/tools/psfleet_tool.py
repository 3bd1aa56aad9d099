"""psfleet: cold and large cases through psfleet.arun, warm through psfleet.Fleet.

No retries, so that a failure shows as one, as it does for the peers. A watchdog
thread measures the event loop's longest stall during the measured section.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psfleet
from benchmarks.protocol import ChildSpec
from benchmarks.tools.latency import Latency
from benchmarks.tools.outcome import NO_OUTPUT, NOT_FINISHED, OK, Outcome, failure_class, measured
from psfleet import eventloop
from psfleet.events import Event, HostStatus, RecordEvent, Stream
from psfleet.loopwatch import LoopWatchdog
from psfleet.targets.model import Target

Report = Callable[[Outcome], None]
_UNFINISHED = (HostStatus.TIMEOUT, HostStatus.CANCELLED)
# The harness's names for what psfleet calls basic and negotiate.
_AUTH = {"basic-https": "basic", "negotiate-no-kdc": "negotiate"}
# Keep the loop's stack for any stall that would miss the 50 ms goal: say where, not only how long.
STACK_AFTER_S = 0.030


class OutputCounter:
    """A sink that counts each host's output objects: ok means the objects arrived."""

    def __init__(self) -> None:
        self.objects: Counter[str] = Counter()

    async def handle(self, event: Event) -> None:
        if isinstance(event, RecordEvent) and event.stream is Stream.OUTPUT:
            self.objects[event.host] += 1


def settings(spec: ChildSpec) -> dict[str, Any]:
    return {
        "auth": _AUTH.get(spec.auth, spec.auth),
        "credential": spec.credential(),
        "ca_file": spec.ca_file,
        "tls": spec.tls,
        "port": spec.port,
        "throttle": spec.throttle,
        "retries": 0,
        "collect": False,
        "run_timeout": spec.time_limit_s,
    }


def tally(
    outcome: Outcome, result: psfleet.FleetResult, counter: OutputCounter, spec: ChildSpec
) -> None:
    outcome.dnf = result.wall_s >= spec.time_limit_s
    for host in result:
        if host.ok:
            enough = counter.objects[host.host] >= spec.expected_objects
            outcome.add(OK if enough else NO_OUTPUT)
        elif outcome.dnf and host.status in _UNFINISHED:
            outcome.add(NOT_FINISHED)
        else:
            message = host.error_message or host.status.value
            outcome.add(failure_class(message, host.error_type or host.status.value), message)


def stalls(outcome: Outcome, watchdog: LoopWatchdog) -> None:
    """Read before the end mark, which blocks the loop on purpose while the harness snapshots."""
    outcome.longest_stall_s = watchdog.longest_stall
    outcome.stalled_stack = watchdog.stalled_stack


def run(spec: ChildSpec, report: Report) -> float | None:
    targets = [Target(name, address, spec.port) for name, address in spec.targets()]
    if spec.kind == "warm":
        return eventloop.run(_warm, spec, targets, report)
    eventloop.run(_cold, spec, targets, report)
    return None


async def _cold(spec: ChildSpec, targets: list[Target], report: Report) -> None:
    outcome, counter, latency = Outcome(), OutputCounter(), Latency()
    watchdog = LoopWatchdog(asyncio.get_running_loop(), report_after=STACK_AFTER_S)
    with measured(outcome):
        watchdog.start()
        sinks = [counter, latency]
        result = await psfleet.arun(targets, spec.script, sinks=sinks, **settings(spec))
        stalls(outcome, watchdog)
    watchdog.stop()
    tally(outcome, result, counter, spec)
    outcome.latency_p50_ms, outcome.latency_p99_ms = latency.percentiles_ms()
    report(outcome)


async def _warm(spec: ChildSpec, targets: list[Target], report: Report) -> float:
    outcome, counter = Outcome(), OutputCounter()
    fleet = psfleet.Fleet(targets, **settings(spec))
    try:
        started = time.perf_counter()
        opened = await fleet.invoke(spec.script)
        outcome.open_s = time.perf_counter() - started
        outcome.open_failures = sum(not host.ok for host in opened)
        watchdog = LoopWatchdog(asyncio.get_running_loop(), report_after=STACK_AFTER_S)
        with measured(outcome):
            watchdog.start()
            result = await fleet.invoke(spec.script, sinks=[counter])
            stalls(outcome, watchdog)
        watchdog.stop()
        tally(outcome, result, counter, spec)
        report(outcome)
    finally:
        started = time.perf_counter()
        await fleet.aclose()
    return time.perf_counter() - started

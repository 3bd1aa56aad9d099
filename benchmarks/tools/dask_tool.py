"""psfleet on a Dask LocalCluster of `spec.threads` worker processes (`dask-N`): cold cases.

The cluster starts before the measured section and closes after it. The workers are not
pinned to the client's CPUs (they would share its core): they may use any CPU. The
section's process CPU is the client's and the LocalCluster scheduler's (it runs in this
process); the workers' own CPU is reported apart, from their processes.
"""

from __future__ import annotations

import asyncio
import os

import psutil

import psfleet
from benchmarks.protocol import ChildSpec
from benchmarks.tools.outcome import Outcome, measured
from benchmarks.tools.psfleet_tool import (
    STACK_AFTER_S,
    OutputCounter,
    Report,
    settings,
    stalls,
    tally,
)
from psfleet import eventloop
from psfleet.loopwatch import LoopWatchdog
from psfleet.targets.model import Target


def run(spec: ChildSpec, report: Report) -> float | None:
    from distributed import Client, LocalCluster  # noqa: PLC0415 (the optional extra)

    if spec.kind != "cold":
        raise ValueError("dask-N runs cold cases only")
    targets = [Target(name, address, spec.port) for name, address in spec.targets()]
    with (
        LocalCluster(
            n_workers=spec.threads or 2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"PSFLEET_PASSWORD": spec.credential()[1]},  # the workers' own, never a task's
        ) as cluster,
        Client(cluster) as client,
    ):
        pids = client.run(os.getpid).values()
        everywhere = list(range(os.cpu_count() or 1))
        client.run(os.sched_setaffinity, 0, everywhere)
        workers = [psutil.Process(pid) for pid in pids]
        executor = psfleet.DaskExecutor(client)
        eventloop.run(_cold, spec, targets, executor, workers, report)
    return None


def _cpu(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


async def _cold(
    spec: ChildSpec,
    targets: list[Target],
    executor: psfleet.DaskExecutor,
    workers: list[psutil.Process],
    report: Report,
) -> None:
    outcome, counter = Outcome(), OutputCounter()
    watchdog = LoopWatchdog(asyncio.get_running_loop(), report_after=STACK_AFTER_S)
    before = _cpu(workers)
    with measured(outcome):
        watchdog.start()
        result = await psfleet.arun(
            targets, spec.script, sinks=[counter], executor=executor, **settings(spec)
        )
        stalls(outcome, watchdog)
        outcome.workers_cpu_s = _cpu(workers) - before
    watchdog.stop()
    tally(outcome, result, counter, spec)
    report(outcome)

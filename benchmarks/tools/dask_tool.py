"""psfleet on a Dask cluster of `spec.threads` worker processes on this machine (`dask-N`).

The cluster is a SubprocessCluster: the scheduler in a process of its own, as on a real
cluster, so the client's CPU and the scheduler's are measured apart (a LocalCluster would
run the scheduler and the nannies in the client's process). It gets psfleet's local-cluster
settings (the 500 ms admin tick) through the environment its processes inherit. It starts,
and imports psfleet's Dask code on the scheduler (which unpickles the tasks) and on the
workers, before the measured section; it closes after it. The workers and the scheduler are
not pinned to the client's CPU (they would share its core): they may use any CPU. Workers'
CPU counts their nannies too.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

import psutil

import psfleet
from benchmarks.protocol import ChildSpec
from benchmarks.tools.latency import Latency
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
from psfleet.fanout.ondask.local_cluster import SETTINGS
from psfleet.loopwatch import LoopWatchdog
from psfleet.targets.model import Target

CLUSTER_HOST = "127.35.0.2"  # random ports; beside the dask profile's fleet (127.35.64.1)
_DASK_CODE = "psfleet.fanout.ondask.chunk"  # what a chunk task's unpickling imports


def run(spec: ChildSpec, report: Report) -> float | None:
    from distributed import Client  # noqa: PLC0415 (the optional extra)
    from distributed.deploy.subprocess import SubprocessCluster  # noqa: PLC0415

    if spec.kind != "cold":
        raise ValueError("dask-N runs cold cases only")
    targets = [Target(name, address, spec.port) for name, address in spec.targets()]
    os.environ.update(_as_environment(SETTINGS))  # read by the cluster's processes at start
    with (
        SubprocessCluster(
            host=CLUSTER_HOST,
            n_workers=spec.threads or 2,
            threads_per_worker=1,
            dashboard_address=None,
            worker_kwargs={"env": {"PSFLEET_PASSWORD": spec.credential()[1]}},  # never a task's
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(spec.threads or 2)
        everywhere = list(range(os.cpu_count() or 1))
        client.run(os.sched_setaffinity, 0, everywhere)
        client.run_on_scheduler(os.sched_setaffinity, 0, everywhere)
        client.run(importlib.import_module, _DASK_CODE)
        client.run_on_scheduler(importlib.import_module, _DASK_CODE)
        workers = _with_nannies(psutil.Process(pid) for pid in client.run(os.getpid).values())
        scheduler = psutil.Process(client.run_on_scheduler(os.getpid))
        executor = psfleet.DaskExecutor(client)
        eventloop.run(_cold, spec, targets, executor, workers, scheduler, report)
    return None


def _as_environment(settings: dict[str, str]) -> dict[str, str]:
    """Dask's settings as the DASK_* variables a process reads when it starts."""
    return {
        "DASK_" + key.upper().replace(".", "__").replace("-", "_"): value
        for key, value in settings.items()
    }


def _with_nannies(workers: Any) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    for worker in workers:
        nanny = worker.parent()
        found += [worker] if nanny is None or nanny.pid == os.getpid() else [worker, nanny]
    return found


def _cpu(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


async def _cold(
    spec: ChildSpec,
    targets: list[Target],
    executor: psfleet.DaskExecutor,
    workers: list[psutil.Process],
    scheduler: psutil.Process,
    report: Report,
) -> None:
    outcome, counter, latency = Outcome(), OutputCounter(), Latency()
    watchdog = LoopWatchdog(asyncio.get_running_loop(), report_after=STACK_AFTER_S)
    before_workers, before_scheduler = _cpu(workers), _cpu([scheduler])
    with measured(outcome):
        watchdog.start()
        result = await psfleet.arun(
            targets, spec.script, sinks=[counter, latency], executor=executor, **settings(spec)
        )
        stalls(outcome, watchdog)
        outcome.workers_cpu_s = _cpu(workers) - before_workers
        outcome.scheduler_cpu_s = _cpu([scheduler]) - before_scheduler
    watchdog.stop()
    tally(outcome, result, counter, spec)
    outcome.latency_p50_ms, outcome.latency_p99_ms = latency.percentiles_ms()
    report(outcome)

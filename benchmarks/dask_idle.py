"""`python -m benchmarks.dask_idle`: what a Dask cluster costs per second while it does nothing.

    python -m benchmarks.dask_idle --seconds 20                 # psfleet's settings (500 ms tick)
    python -m benchmarks.dask_idle --seconds 20 --dask-defaults # Dask's own (20 ms tick)

The cluster of the `dask` profile (benchmarks/tools/dask_tool.py: a SubprocessCluster of two
workers, the scheduler in a process of its own) with a connected Client, idle: the CPU per
second of the client's process, the scheduler's, and the workers' (nannies included). This is
the fixed part of a run's cost; a run's CPU minus it times the wall is the per-host part.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import psutil

from benchmarks.tools.dask_tool import CLUSTER_HOST, _as_environment, _with_nannies
from psfleet.fanout.ondask.local_cluster import SETTINGS


def _cpu(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(seconds: float, dask_defaults: bool) -> dict[str, object]:
    from distributed import Client  # noqa: PLC0415 (the optional extra)
    from distributed.deploy.subprocess import SubprocessCluster  # noqa: PLC0415

    if not dask_defaults:
        os.environ.update(_as_environment(SETTINGS))
    with (
        SubprocessCluster(
            host=CLUSTER_HOST, n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        workers = _with_nannies(psutil.Process(pid) for pid in client.run(os.getpid).values())
        scheduler = [psutil.Process(client.run_on_scheduler(os.getpid))]
        time.sleep(2.0)  # past the start-up's own work
        before = (_own_cpu(), _cpu(scheduler), _cpu(workers), time.monotonic())
        time.sleep(seconds)
        after = (_own_cpu(), _cpu(scheduler), _cpu(workers), time.monotonic())
    wall = after[3] - before[3]
    client_s, scheduler_s, workers_s = (after[i] - before[i] for i in range(3))
    return {
        "settings": "dask defaults" if dask_defaults else SETTINGS,
        "seconds": round(wall, 1),
        "client_cpu_ms_per_s": round(client_s / wall * 1000, 2),
        "scheduler_cpu_ms_per_s": round(scheduler_s / wall * 1000, 2),
        "workers_cpu_ms_per_s": round(workers_s / wall * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dask_idle")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--dask-defaults", action="store_true", help="without psfleet's settings")
    args = parser.parse_args()
    print(json.dumps(measure(args.seconds, args.dask_defaults)), flush=True)


if __name__ == "__main__":
    main()

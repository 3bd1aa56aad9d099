"""`python -m benchmarks.dask_executor`: the same cold run with --executor local and on a
LocalCluster of two worker processes, against one `psfleet sim` subprocess.

    python -m benchmarks.dask_executor --hosts 2000 --rtt 20

The harness runs the same comparison as cases (`python -m benchmarks --profile dask`, tool
`dask-N`: CPU of client, workers and simulator per host); this script adds the event
latency, which needs a script that returns the host's time.

Each host runs `[datetime]::UtcNow` (the simulator shares this machine's clock): the event
latency is the record's arrival at the client's sink minus that time, so it holds the
host's answer, the worker's batching, the scheduler's forwarding and the client's merge.
CPU: this process (client, and on a LocalCluster the scheduler too: it lives here) and the
workers' processes, per host. On 2 shared cores the simulator bounds the wall figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import dask
import psutil

import psfleet
from psfleet.events import RecordEvent
from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process

ADDRESS = "127.35.0.1"
PORT = 5985


class Latency:
    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def handle(self, event: object) -> None:
        if isinstance(event, RecordEvent) and isinstance(event.data, datetime.datetime):
            stamp = event.data.replace(tzinfo=event.data.tzinfo or datetime.UTC)
            self.seconds.append(time.time() - stamp.timestamp())


def _cpu(process: psutil.Process | None) -> float:
    return 0.0 if process is None else sum(process.cpu_times()[:2])


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_cluster(workers: int, scheduler: str) -> Any:
    """A LocalCluster (its scheduler in this process) or a SubprocessCluster (the scheduler
    in a process of its own, as on a real cluster): two worker processes either way."""
    env = {"PSFLEET_PASSWORD": DEFAULT_PASSWORD}  # the workers' own, never the tasks'
    if os.environ.get("BENCH_DASK_DEFAULTS"):  # A/B against a tree without them: Dask's own
        return _cluster(workers, scheduler, env, {})
    from psfleet.fanout.ondask.local_cluster import SETTINGS  # noqa: PLC0415

    with dask.config.set(SETTINGS):
        return _cluster(workers, scheduler, env, SETTINGS)


def _cluster(workers: int, scheduler: str, env: dict[str, str], settings: dict[str, str]) -> Any:
    from distributed import LocalCluster  # noqa: PLC0415 (the optional extra)
    from distributed.deploy.subprocess import SubprocessCluster  # noqa: PLC0415

    if scheduler == "process":
        # The scheduler's process reads Dask's settings from its environment, not from ours.
        for key, value in settings.items():
            os.environ["DASK_" + key.upper().replace(".", "__").replace("-", "_")] = value
        return SubprocessCluster(
            host="127.0.0.1",
            n_workers=workers,
            threads_per_worker=1,
            dashboard_address=None,
            worker_kwargs={"env": env},
        )
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=env,
    )


def scheduler_process(cluster: Any) -> psutil.Process | None:
    process = getattr(cluster.scheduler, "process", None)  # a SubprocessCluster's
    return None if process is None else psutil.Process(process.pid)


def measure(
    executor: str, hosts: int, inventory: Path, workers: int, scheduler: str
) -> dict[str, Any]:
    latency = Latency()
    settings: dict[str, Any] = {
        "inventory": inventory,
        "auth": "ntlm",
        "credential": ("LAB\\admin", DEFAULT_PASSWORD),
        "throttle": 64,
        "sinks": [latency],
    }
    client = cluster = None
    worker_procs: list[psutil.Process] = []
    if executor == "local-cluster":
        from distributed import Client  # noqa: PLC0415

        cluster = start_cluster(workers, scheduler)
        client = Client(cluster)
        client.wait_for_workers(workers)
        worker_procs = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        settings["executor"] = psfleet.DaskExecutor(client)
    sched = scheduler_process(cluster) if cluster is not None else None
    sched_cpu = _cpu(sched)
    worker_cpu = [_cpu(p) for p in worker_procs]
    cpu, wall = _cpu_self(), time.monotonic()
    width = max(2, len(str(hosts)))  # simfleet's names: node01..node16, node0001..node2000
    targets = f"node[{1:0{width}d}-{hosts:0{width}d}]"
    result = psfleet.run(targets, "[datetime]::UtcNow", **settings)
    wall, cpu = time.monotonic() - wall, _cpu_self() - cpu
    sched_cpu = _cpu(sched) - sched_cpu
    worker_cpu = [_cpu(p) - before for p, before in zip(worker_procs, worker_cpu, strict=True)]
    if client is not None and cluster is not None:
        client.close()
        cluster.close()
    seconds = sorted(latency.seconds) or [float("nan")]
    return {
        "executor": executor,
        "scheduler": (scheduler if cluster is not None else None),
        "hosts": hosts,
        "ok": result.counts[psfleet.HostStatus.OK],
        "wall_s": round(wall, 2),
        "hosts_per_s": round(hosts / wall, 1),
        "client_cpu_ms_per_host": round(cpu / hosts * 1000, 3),
        "scheduler_cpu_ms_per_host": round(sched_cpu / hosts * 1000, 3) if sched else None,
        "worker_cpu_ms_per_host": round(sum(worker_cpu) / hosts * 1000, 3),
        "latency_p50_ms": round(statistics.median(seconds) * 1000, 1),
        "latency_p99_ms": round(seconds[int(len(seconds) * 0.99) - 1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dask_executor")
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--rtt", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--address", default=ADDRESS, help="the simulated fleet's first address")
    parser.add_argument(
        "--executors",
        default="local,local-cluster,local,local-cluster",
        help="the runs, in order, on one simulator",
    )
    parser.add_argument(
        "--scheduler",
        choices=("in-client", "process"),
        default="in-client",
        help="the scheduler in this process (LocalCluster) or in its own (SubprocessCluster)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        inventory = Path(workdir) / "inventory.yml"
        with sim_process(
            "--hosts", str(args.hosts), "--base-address", args.address, "--port", str(PORT),
            "--inventory", str(inventory), "--rtt-ms", f"{args.rtt:g}",
        ):  # fmt: skip
            for executor in args.executors.split(","):
                figures = measure(executor, args.hosts, inventory, args.workers, args.scheduler)
                print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()

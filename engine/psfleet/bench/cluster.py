"""`psfleet bench --executor dask|local-cluster`: the probes run on the Dask cluster's workers.

The hosts probed one at a time (the limit model's RTT and CPU per host) are probed here, by
the client; the rest go out in chunks, one Dask task per chunk, each probing its hosts with
`bench_fleet` at `throttle` in flight (so the throttle is per worker thread, as for `run`).
No password travels: each worker reads its own, as a Dask `run` does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from psfleet import eventloop
from psfleet.bench.fleet import FleetBench, OnProbe, bench_fleet
from psfleet.bench.probe import HostProbe, ProbePlan
from psfleet.bench.usage import Usage, usage_now
from psfleet.fanout.executor import FanOut
from psfleet.fanout.ondask import DaskExecutor
from psfleet.fanout.ondask.chunk import with_worker_password
from psfleet.fanout.ondask.executor import chunk_size_for, without_secrets
from psfleet.fanout.ondask.wire import PasswordSource
from psfleet.fanout.options import RunOptions
from psfleet.targets.model import Target


@dataclass(frozen=True, slots=True)
class ChunkProbes:
    """What one chunk task sends back: its probes and what probing them cost its worker."""

    probes: list[HostProbe]
    cpu_s: float
    peak_rss_mb: float


def probe_chunk(
    targets: Sequence[Target], options: RunOptions, plan: ProbePlan, password: PasswordSource | None
) -> ChunkProbes:
    """The Dask task: probe a chunk of hosts on this worker, on an event loop of its own."""
    from distributed import get_worker  # noqa: PLC0415 (the optional extra)

    options = with_worker_password(options, password, get_worker().address)
    bench = eventloop.run(
        bench_fleet, targets, options, dataclasses.replace(plan, unloaded_hosts=0)
    )
    return ChunkProbes(bench.probes, bench.end.cpu_s - bench.start.cpu_s, bench.end.peak_rss_mb)


async def bench_on_cluster(
    executor: DaskExecutor,
    targets: Sequence[Target],
    options: RunOptions,
    plan: ProbePlan,
    on_probe: OnProbe | None = None,
) -> FleetBench:
    """Probe like `bench_fleet`; the loaded window's CPU is the sum of the workers' CPU."""
    unloaded = targets[: plan.unloaded_hosts]
    here = await bench_fleet(unloaded, options, plan, on_probe)
    sendable, password = without_secrets(
        FanOut(targets, (), (), options), executor.password_file, executor.password_on_workers
    )
    loaded = list(targets[plan.unloaded_hosts :])
    chunks = await anyio.to_thread.run_sync(
        _probe_on_workers, executor, loaded, sendable, plan, password, on_probe
    )
    end = usage_now()
    probes = {p.host: p for p in here.probes}
    for chunk in chunks:
        probes.update((p.host, p) for p in chunk.probes)
    workers_end = Usage(
        wall_s=end.wall_s,
        cpu_s=here.end.cpu_s + sum(chunk.cpu_s for chunk in chunks),
        peak_rss_mb=max([end.peak_rss_mb, *(chunk.peak_rss_mb for chunk in chunks)]),
        open_files=None,
    )
    return FleetBench(
        [probes[t.name] for t in targets],
        plan,
        options.throttle,
        options.client.auth.method.value,
        here.start,
        here.end,
        workers_end,
    )


def _probe_on_workers(
    executor: DaskExecutor,
    targets: list[Target],
    options: RunOptions,
    plan: ProbePlan,
    password: PasswordSource | None,
    on_probe: OnProbe | None,
) -> list[ChunkProbes]:
    """Blocking (the Dask client's calls): runs in a thread, off the event loop."""
    from distributed import as_completed  # noqa: PLC0415 (the optional extra)

    as_they_finish: Callable[[list[Any]], Iterable[Any]] = as_completed  # dask has no types

    if not targets:
        return []
    client = executor.client
    size = executor.chunk_size or chunk_size_for(
        len(targets), options.throttle, sum(client.nthreads().values())
    )
    run_id = f"psfleet-bench-{time.time_ns()}"
    futures = [
        client.submit(
            probe_chunk,
            targets[start : start + size],
            options,
            plan,
            password,
            key=f"{run_id}-{start}",
            pure=False,
        )
        for start in range(0, len(targets), size)
    ]
    chunks: list[ChunkProbes] = []
    for future in as_they_finish(futures):
        chunk: ChunkProbes = future.result()
        chunks.append(chunk)
        if on_probe is not None:
            for probe in chunk.probes:
                on_probe(probe)
    return chunks

"""Probe many hosts at once, at most `throttle` in flight, and measure the client doing it.

The first `plan.unloaded_hosts` are probed one at a time: under a saturated fan-out every
request also waits for the busy event loop, which inflates the RTT seen, so the limit
model takes RTT, round trips and CPU per host from these; the rest measure throughput.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from psfleet.bench.probe import HostProbe, ProbePlan, probe_host
from psfleet.bench.usage import Usage, usage_now
from psfleet.errors import UsageError
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.fanout.executor import run_broker
from psfleet.fanout.options import RunOptions
from psfleet.targets.model import Target

OnProbe = Callable[[HostProbe], None]


@dataclass(frozen=True, slots=True)
class FleetBench:
    probes: list[HostProbe]  # in target order
    plan: ProbePlan
    throttle: int
    auth: str
    start: Usage
    unloaded_end: Usage  # after the hosts probed one at a time
    end: Usage

    @property
    def unloaded(self) -> list[HostProbe]:
        return self.probes[: self.plan.unloaded_hosts]

    @property
    def loaded(self) -> list[HostProbe]:
        return self.probes[self.plan.unloaded_hosts :]


async def bench_fleet(
    targets: Sequence[Target],
    options: RunOptions,
    plan: ProbePlan,
    on_probe: OnProbe | None = None,
) -> FleetBench:
    """Probe every target; the producer waits for a free slot, so tasks stay at `throttle`.

    One credential broker for all hosts, as a run has: one ticket, one KDC probe.
    """
    with run_broker(options) as brokered:
        return await _bench_all(targets, brokered, plan, on_probe)


async def _bench_all(
    targets: Sequence[Target],
    options: RunOptions,
    plan: ProbePlan,
    on_probe: OnProbe | None,
) -> FleetBench:
    probes: dict[str, HostProbe] = {}
    slots = anyio.Semaphore(options.throttle)

    async def one(target: Target) -> None:
        try:
            probe = await _probe_target(target, options, plan)
            probes[target.name] = probe
            if on_probe is not None:
                on_probe(probe)
        finally:
            slots.release()

    start = usage_now()
    unloaded, loaded = targets[: plan.unloaded_hosts], targets[plan.unloaded_hosts :]
    for target in unloaded:
        await slots.acquire()
        cpu_before = time.process_time()
        await one(target)
        probes[target.name].cpu_s = time.process_time() - cpu_before  # alone: all of it is its
    unloaded_end = usage_now()
    async with anyio.create_task_group() as group:
        for target in loaded:
            await slots.acquire()
            group.start_soon(one, target)
    return FleetBench(
        [probes[t.name] for t in targets],
        plan,
        options.throttle,
        options.client.auth.method.value,
        start,
        unloaded_end,
        usage_now(),
    )


async def _probe_target(target: Target, options: RunOptions, plan: ProbePlan) -> HostProbe:
    try:
        endpoint = endpoint_for(target, options)
        client = client_options_for(target, options.client)
    except UsageError as exc:  # a bad inventory entry fails its host, not the run
        probe = HostProbe(target.name, phase="connect")
        probe.fail(exc)
        return probe
    return await probe_host(endpoint, client, plan)

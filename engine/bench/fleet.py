"""Probe many hosts at once, at most `throttle` in flight, and measure the client doing it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from psfleet.bench.probe import HostProbe, ProbePlan, probe_host
from psfleet.bench.usage import Usage, usage_now
from psfleet.errors import UsageError
from psfleet.fanout.attempt import client_options_for, endpoint_for
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
    end: Usage


async def bench_fleet(
    targets: Sequence[Target],
    options: RunOptions,
    plan: ProbePlan,
    on_probe: OnProbe | None = None,
) -> FleetBench:
    """Probe every target; the producer waits for a free slot, so tasks stay at `throttle`."""
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
    async with anyio.create_task_group() as group:
        for target in targets:
            await slots.acquire()
            group.start_soon(one, target)
    end = usage_now()
    return FleetBench(
        [probes[t.name] for t in targets],
        plan,
        options.throttle,
        options.client.auth.method.value,
        start,
        end,
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

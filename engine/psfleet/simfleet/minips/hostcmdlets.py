"""Cmdlets that read the simulated host's own state (single hop, always allowed)."""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterator
from typing import Any

from psfleet.simfleet.minips import objects, records
from psfleet.simfleet.minips.commands import Bound, cmdlet
from psfleet.simfleet.minips.evaluator import Runtime
from psfleet.simfleet.minips.values import enumerate_value, get_member, to_string


def _select_by_name(
    rt: Runtime, bound: Bound, items: tuple[Any, ...], prop: str, not_found: tuple[str, str, str]
) -> Iterator[Any]:
    """Name filtering with wildcards; a literal name that matches nothing is an error."""
    if not bound.has("Name"):
        yield from items
        return
    exception_type, message, error_id = not_found
    for pattern in (to_string(p) for p in enumerate_value(bound.get("Name"))):
        hits = [
            i
            for i in items
            if fnmatch.fnmatchcase(to_string(get_member(i, prop)).lower(), pattern.lower())
        ]
        if not hits and not any(ch in pattern for ch in "*?["):
            rec = records.not_found(
                exception_type,
                message.format(pattern),
                error_id,
                bound.name,
                pattern,
                rt.where(bound.pos, bound.name),
            )
            rt.write_error(rec, bound)
        yield from hits


@cmdlet(
    "Get-Service",
    "Microsoft.PowerShell.Commands.GetServiceCommand",
    params=("Name", "DisplayName", "ComputerName"),
    positional=("Name",),
    aliases=("gsv",),
)
def get_service(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    not_found = (
        "Microsoft.PowerShell.Commands.ServiceCommandException",
        "Cannot find any service with service name '{0}'.",
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand",
    )
    yield from _select_by_name(rt, bound, objects.services(rt.ctx.host), "Name", not_found)


@cmdlet(
    "Get-Process",
    "Microsoft.PowerShell.Commands.GetProcessCommand",
    params=("Name", "Id"),
    positional=("Name",),
    pure=False,
    aliases=("gps", "ps"),
)
def get_process(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    host = rt.ctx.host
    uptime = (dt.datetime.now(dt.UTC) - host.boot_time).total_seconds()
    procs = objects.processes(host, uptime)
    if bound.has("Id"):
        wanted = {int(i) for i in enumerate_value(bound.get("Id"))}
        yield from (p for p in procs if get_member(p, "Id") in wanted)
        return
    not_found = (
        "Microsoft.PowerShell.Commands.ProcessCommandException",
        'Cannot find a process with the name "{0}". '
        "Verify the process name and call the cmdlet again.",
        "NoProcessFoundForGivenName,Microsoft.PowerShell.Commands.GetProcessCommand",
    )
    yield from _select_by_name(rt, bound, procs, "ProcessName", not_found)


@cmdlet(
    "Get-ComputerInfo",
    "Microsoft.PowerShell.Commands.GetComputerInfoCommand",
    params=("Property",),
    positional=("Property",),
)
def get_computer_info(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    yield objects.computer_info(rt.ctx.host)


def _require_cluster(rt: Runtime, bound: Bound, type_name: str) -> bool:
    if rt.ctx.host.cluster is None:
        rt.write_error(
            records.no_cluster(
                bound.name, type_name, rt.ctx.host.name, rt.where(bound.pos, bound.name)
            ),
            bound,
        )
        return False
    return True


@cmdlet(
    "Get-ClusterNode",
    "Microsoft.FailoverClusters.PowerShell.GetNodeCommand",
    params=("Name", "Cluster"),
    positional=("Name",),
)
def get_cluster_node(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if _require_cluster(rt, bound, "Microsoft.FailoverClusters.PowerShell.GetNodeCommand"):
        yield from objects.cluster_nodes(rt.ctx.host)


@cmdlet(
    "Get-ClusterGroup",
    "Microsoft.FailoverClusters.PowerShell.GetClusterGroupCommand",
    params=("Name", "Cluster"),
    positional=("Name",),
)
def get_cluster_group(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if _require_cluster(rt, bound, "Microsoft.FailoverClusters.PowerShell.GetClusterGroupCommand"):
        yield from objects.cluster_groups(rt.ctx.host)

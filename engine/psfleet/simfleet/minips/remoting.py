"""Cmdlets that reach another host: where the double-hop rule applies.

A session may touch another host only with delegable credentials (CredSSP or
Kerberos with a forwarded TGT) or an explicit -Credential; reaching the host
itself is not a second hop. Otherwise these fail with Windows' own records.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from psfleet.simfleet.hostfacts import HostFacts, SessionContext, stable_hash
from psfleet.simfleet.minips import objects, records
from psfleet.simfleet.minips.commands import Bound, cmdlet
from psfleet.simfleet.minips.evaluator import (
    ExitScript,
    ReturnFromBlock,
    Runtime,
    ScriptBlock,
    Terminate,
)
from psfleet.simfleet.minips.items import Error
from psfleet.simfleet.minips.values import enumerate_value, get_member, to_string

_LOOPBACK = ("localhost", ".", "127.0.0.1", "::1")


def resolve(rt: Runtime, name: str) -> HostFacts | None:
    host = rt.ctx.host
    if host.is_named(name) or name.strip().lower() in _LOOPBACK:
        return host
    return rt.ctx.lookup(name)


def may_reach(rt: Runtime, target: HostFacts, bound: Bound) -> bool:
    return target is rt.ctx.host or rt.ctx.delegable or bound.has("Credential")


@cmdlet(
    "Invoke-Command",
    "Microsoft.PowerShell.Commands.InvokeCommandCommand",
    params=(
        "ComputerName",
        "ScriptBlock",
        "ArgumentList",
        "Credential",
        "Authentication",
        "Port",
        "UseSSL",
        "SessionOption",
    ),
    switches=("HideComputerName",),
    positional=("ScriptBlock", "ArgumentList"),
    aliases=("icm",),
)
def invoke_command(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    block = bound.get("ScriptBlock")
    if not isinstance(block, ScriptBlock):
        raise TypeError("Invoke-Command needs a -ScriptBlock")
    args = list(enumerate_value(bound.get("ArgumentList"))) if bound.has("ArgumentList") else []
    if not bound.has("ComputerName"):
        yield from rt.invoke_block(block, args=args)
        return
    for name in (to_string(n) for n in enumerate_value(bound.get("ComputerName"))):
        where = rt.where(bound.pos, bound.name)
        target = resolve(rt, name)
        if target is None:
            rt.write_error(records.computer_not_found(name, where), bound)
        elif not may_reach(rt, target, bound):
            rt.write_error(records.access_denied(name, where), bound)
        else:
            yield from _run_remote(rt, target, block, args)


def _run_remote(
    rt: Runtime, target: HostFacts, block: ScriptBlock, args: list[Any]
) -> Iterator[Any]:
    """Run block on target; its output comes back deserialized and tagged, like Windows."""
    # The new session authenticates with the credentials it was given; they do not
    # delegate again (a third hop needs its own delegation).
    ctx = SessionContext(target, rt.ctx.user, rt.ctx.auth, False, rt.ctx.lookup)
    inner = Runtime(ctx, block.text, using=dict(rt.vars))
    inner.vars["args"] = args
    try:
        for value in inner.run_block(block.body):
            rt.pending.extend(inner.pending)
            inner.pending.clear()
            yield objects.with_note(value, "PSComputerName", target.name, deserialized=True)
    except Terminate as err:
        # A terminating error on the far side is a plain error record on this side.
        inner.pending.append(Error(err.record))
    except (ExitScript, ReturnFromBlock):
        pass
    rt.pending.extend(inner.pending)


@cmdlet(
    "Test-Cluster",
    "Microsoft.FailoverClusters.PowerShell.TestClusterCommand",
    params=("Node", "Cluster", "Include", "Ignore", "ReportName", "Credential"),
    switches=("Force",),
    positional=("Node",),
    pure=False,
)
def test_cluster(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    host = rt.ctx.host
    where = rt.where(bound.pos, bound.name)
    nodes = (
        [to_string(n) for n in enumerate_value(bound.get("Node"))]
        if bound.has("Node")
        else list(host.cluster_nodes)
    )
    if not nodes:
        rt.write_error(
            records.no_cluster(
                bound.name,
                "Microsoft.FailoverClusters.PowerShell.TestClusterCommand",
                host.name,
                where,
            ),
            bound,
        )
        return
    for node in nodes:
        target = resolve(rt, node)
        if target is None:
            rt.write_error(records.cluster_node_unreachable(node, where), bound)
            return
        if not may_reach(rt, target, bound):
            rt.write_error(
                records.cluster_access_denied(host.cluster or host.name, node, where), bound
            )
            return
    now = dt.datetime.now().astimezone()
    user = rt.ctx.user.rpartition("\\")[2]
    name = f"Validation Report {now:%Y.%m.%d} At {now:%H.%M.%S}.htm"
    yield objects.file_item(
        f"C:\\Users\\{user}\\AppData\\Local\\Temp", name, 512_000 + 4096 * len(nodes), now
    )


@cmdlet(
    "Get-ChildItem",
    "Microsoft.PowerShell.Commands.GetChildItemCommand",
    params=("Path", "LiteralPath", "Filter", "Include", "Exclude", "Depth", "Credential"),
    switches=("Recurse", "Force", "File", "Directory", "Name"),
    positional=("Path", "Filter"),
    aliases=("gci", "ls", "dir"),
)
def get_child_item(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    user = rt.ctx.user.rpartition("\\")[2]
    path = to_string(bound.get("Path") or bound.get("LiteralPath") or f"C:\\Users\\{user}")
    where = rt.where(bound.pos, bound.name)
    owner: HostFacts | None = rt.ctx.host
    if path.startswith("\\\\"):
        server, _, rest = path[2:].partition("\\")
        owner = resolve(rt, server) if rest.strip("\\") else None
        if owner is not None and not may_reach(rt, owner, bound):
            rt.write_error(records.unc_access_denied(path, where), bound)
            return
    elif path[:3].upper() != "C:\\":
        owner = None
    if owner is None:
        rt.write_error(records.path_not_found(path, where), bound)
        return
    for item in _listing(owner, path):
        is_dir = bool(get_member(item, "PSIsContainer"))
        if (bound.get("File") and is_dir) or (bound.get("Directory") and not is_dir):
            continue
        yield to_string(item) if bound.get("Name") else item


def _listing(host: HostFacts, path: str) -> list[Any]:
    """A small deterministic directory: the same names on every run for a host."""
    written = host.boot_time
    if path.rstrip("\\").upper() == "C:":
        dirs = ("PerfLogs", "Program Files", "Program Files (x86)", "Users", "Windows")
        return [objects.file_item("C:\\", d, None, written) for d in dirs]
    seed = stable_hash(f"{host.inventory_name}|{path.lower()}")
    files = (("inventory.csv", 2048 + seed % 8192), ("readme.txt", 300 + (seed >> 13) % 900))
    items = [objects.file_item(path, d, None, written) for d in ("Logs", "Reports")]
    items += [objects.file_item(path, name, size, written) for name, size in files]
    return items

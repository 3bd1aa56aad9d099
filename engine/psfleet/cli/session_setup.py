"""What `run` and `shell` share: resolving targets (with --cluster), sinks, the CredSSP warning."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from psfleet.cli.interrupts import watch_interrupts
from psfleet.errors import UsageError
from psfleet.fanout.api import RunControl, Sink
from psfleet.fanout.cluster import cluster_node_names
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult
from psfleet.sinks import load_sink
from psfleet.targets import merge_targets, resolve_cluster, resolve_targets
from psfleet.targets.model import Target
from psfleet.transport.blocking import off_loop

CREDSSP_WARNING = (
    "WARNING: CredSSP sends your password to each remote host, which can then use it "
    "anywhere in your name. Use it only for hosts you trust (the --delegate-to allowlist); "
    "Kerberos delegation (--auth kerberos --delegate) passes no password. --quiet hides this."
)


async def resolve_all_targets(
    expressions: list[str], cluster: str | None, inventory: Path | None, options: RunOptions
) -> list[Target]:
    hosts: list[Target] = []
    if expressions:  # an inventory is read and parsed in a thread, off the loop
        hosts = await off_loop(
            lambda: resolve_targets(expressions, inventory, options.port), name="psfleet-targets"
        )
    if cluster is not None:

        async def expand(node: Target) -> list[str]:
            return await cluster_node_names(node, options)

        hosts = merge_targets(
            hosts, await resolve_cluster(cluster, inventory, options.port, expand)
        )
    if not hosts:
        raise UsageError("no targets: give TARGETS or --cluster NAME")
    return hosts


async def run_with_sinks(
    hosts: list[Target],
    recorder: AbstractAsyncContextManager[list[Sink]],
    work: Callable[[list[Sink], RunControl], Awaitable[FleetResult]],
    *,
    json_output: bool,
    output_dir: Path | None,
    quiet: bool,
    stopping: str,
) -> FleetResult:
    """`work` with the run's sinks (the recorder's too) and a Ctrl-C watcher that stops it;
    `stopping` says what the first Ctrl-C does."""
    control = RunControl()
    refused: UsageError | None = None
    async with (
        recorder as recorded,
        open_sinks(
            len(hosts), json_output=json_output, output_dir=output_dir, quiet=quiet
        ) as sinks,
        anyio.create_task_group() as group,
    ):
        group.start_soon(watch_interrupts, control.interrupt, lambda: control.interrupted, stopping)
        try:
            result = await work([*sinks, *recorded], control)
        except UsageError as exc:
            # Found once the run began (a Dask worker without the password): raised as
            # itself below, for the usage message; out of the task group it comes wrapped.
            refused = exc
        group.cancel_scope.cancel()
    if refused is not None:
        raise refused
    return result


@asynccontextmanager
async def open_sinks(
    total: int, *, json_output: bool, output_dir: Path | None, quiet: bool
) -> AsyncIterator[list[Sink]]:
    sinks: list[Any] = []
    if json_output:
        sinks.append(load_sink("jsonl", stream=sys.stdout))
    else:
        sinks.append(load_sink("console", quiet=quiet, total=total))
    if output_dir is not None:
        sinks.append(load_sink("outdir", directory=output_dir))
    try:
        yield sinks
    finally:
        for sink in sinks:
            await close_sink(sink)
        report_sink_failures(sinks)


async def close_sink(sink: Any) -> None:
    """Sinks may close synchronously (close) or asynchronously (aclose)."""
    aclose = getattr(sink, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(sink, "close", None)
    if close is not None:
        close()


def report_sink_failures(sinks: list[Any]) -> None:
    """Say what output could not be written (a full disk, a closed pipe): never lose it silently."""
    for sink in sinks:
        for failure in getattr(sink, "failures", []):
            sys.stderr.write(f"psfleet: output not written: {failure}\n")

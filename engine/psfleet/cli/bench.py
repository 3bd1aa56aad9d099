"""`psfleet bench TARGETS`: measure remoting on your own fleet with a read-only probe.

Per host: connect + authenticate, open a pool, run `$PSVersionTable.PSVersion` (or -c),
repeat it --commands times on the same pool, close. Reports latencies, round trips,
throughput, client CPU, failures by class and the throttle the measured RTT and CPU
call for. The same code measures simfleet in the benchmark harness.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from psfleet import eventloop
from psfleet.bench import DEFAULT_SCRIPT, ProbePlan, bench_fleet, fleet_json
from psfleet.bench.cluster import bench_on_cluster
from psfleet.bench.fleet import OnProbe
from psfleet.bench.usage import raise_open_file_limit
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.executor_options import ExecutorArgs, open_executor
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.session_setup import CREDSSP_WARNING, resolve_all_targets
from psfleet.cli.target_options import Inventory, Targets
from psfleet.errors import UsageError
from psfleet.fanout.executor import Executor
from psfleet.fanout.ondask import DaskExecutor
from psfleet.fanout.options import DEFAULT_THROTTLE, RunOptions

EXIT_USAGE = 2
_LATENCIES = (
    ("RTT (smallest request)", "rtt_ms"),
    ("connect + auth", "connect_ms"),
    ("pool open", "pool_open_ms"),
    ("first command", "first_command_ms"),
    ("warm command", "warm_ms"),
    ("close", "close_ms"),
)


@with_option_groups(connection=ConnectionArgs, cluster_run=ExecutorArgs)
def bench(
    targets: Targets = None,
    *,
    command: Annotated[
        str,
        typer.Option(
            "-c",
            "--command",
            help="The script to time. Yours runs --commands+1 times: keep it read-only.",
        ),
    ] = DEFAULT_SCRIPT,
    commands: Annotated[
        int, typer.Option("--commands", min=0, max=1000, help="Warm repeats on the open pool.")
    ] = 3,
    unloaded: Annotated[
        int,
        typer.Option(
            min=0,
            help="Hosts probed one at a time before the fan-out: RTT and CPU per host without "
            "contention, for the limit model.",
        ),
    ] = 3,
    cluster: Annotated[
        str | None, typer.Option(help="Probe every node of this failover cluster.")
    ] = None,
    inventory: Inventory = None,
    connection: ConnectionArgs,
    cluster_run: ExecutorArgs,
    # Per worker with Dask: --executor's help says so, as it does for run.
    throttle: Annotated[int, typer.Option(min=1, help="Hosts probed at once.")] = DEFAULT_THROTTLE,
    timeout: Annotated[
        float, typer.Option(min=0.001, help="Seconds per host for the whole probe.")
    ] = 60.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object (totals and per_host).")
    ] = False,
    show: Annotated[
        int, typer.Option(min=0, help="Hosts in the per-host table (failed, then slowest).")
    ] = 20,
) -> None:
    """Measure connect, pool open, RTT and command latency, throughput and client CPU.

    Changes nothing on the hosts (unless your -c script does). Exit code: 0 every host
    ok, 1 some host failed, 2 usage error.
    """
    plan = ProbePlan(
        script=command, commands=commands, host_timeout_s=timeout, unloaded_hosts=unloaded
    )
    try:
        if not command.strip():
            raise UsageError("-c/--command is empty")
        use = cluster_run.password_use(cluster=bool(cluster), unloaded=unloaded)
        connecting = connection.run_options(**use)
        options = dataclasses.replace(connecting, throttle=throttle)
        if connection.auth == "credssp":
            typer.echo(CREDSSP_WARNING, err=True)
        raise_open_file_limit()
        password_file = None if connection.password_file is None else str(connection.password_file)
        with open_executor(cluster_run, options, password_file) as where:
            figures = eventloop.run(
                _measure, targets or [], cluster, inventory, options, plan, json_output, where
            )
    except UsageError as exc:
        typer.echo(f"psfleet bench: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    if json_output:
        typer.echo(json.dumps(figures))
    else:
        print_report(figures, show)
    raise typer.Exit(0 if figures["ok"] == figures["hosts"] else 1)


async def _measure(
    expressions: list[str],
    cluster: str | None,
    inventory: Path | None,
    options: RunOptions,
    plan: ProbePlan,
    quiet: bool,
    executor: Executor,
) -> dict[str, Any]:
    hosts = await resolve_all_targets(expressions, cluster, inventory, options)
    with _progress(len(hosts), quiet) as advance:
        if isinstance(executor, DaskExecutor):
            return fleet_json(await bench_on_cluster(executor, hosts, options, plan, advance))
        return fleet_json(await bench_fleet(hosts, options, plan, advance))


@contextlib.contextmanager
def _progress(total: int, quiet: bool) -> Iterator[OnProbe | None]:
    """A progress bar on stderr, only for a person watching a terminal."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("probing", total=total)
        yield lambda _probe: progress.advance(task)


def _num(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_report(figures: dict[str, Any], show: int) -> None:
    console = Console()
    console.print(
        f"[bold]psfleet bench[/bold]: {figures['ok']} of {figures['hosts']} hosts ok, "
        f"throttle {figures['throttle']}, auth {figures['auth']}, "
        f"{figures['commands']} warm repeats of {figures['script']!r}",
        highlight=False,
    )
    console.print(_latency_table(figures))
    console.print(_throughput_table(figures))
    if figures["failures"]:
        console.print(_failure_table(figures))
    if show:
        console.print(_host_table(figures, show))


def _latency_table(figures: dict[str, Any]) -> Table:
    table = Table(title="Latency (ms)", title_justify="left")
    for name in ("", "p50", "p95", "max"):
        table.add_column(name, justify="right" if name else "left")
    for label, key in _LATENCIES:
        summary = figures[key] or {}
        table.add_row(label, *(_num(summary.get(p)) for p in ("p50", "p95", "max")))
    return table


def _throughput_table(figures: dict[str, Any]) -> Table:
    table = Table(title="Throughput and cost", title_justify="left", show_header=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("wall time (s)", _num(figures["wall_s"], 2))
    table.add_row("hosts/s", _num(figures["hosts_per_s"]))
    table.add_row("commands/s", _num(figures["commands_per_s"]))
    table.add_row("client CPU per host, fan-out (ms)", _num(figures["client_cpu_ms_per_host"], 2))
    table.add_row("round trips per command", _num(figures["round_trips_per_command"]))
    table.add_row("round trips per host", _num(figures["round_trips_per_host"]))
    table.add_row("peak RSS (MB)", _num(figures["peak_rss_mb"]))
    calm = figures["unloaded"]
    if calm is not None:
        table.add_row(
            f"one host at a time ({calm['ok']} of {calm['hosts']}): RTT, CPU per host",
            f"{_num(calm['rtt_ms'])} ms, {_num(calm['client_cpu_ms_per_host'], 2)} ms",
        )
    needed = figures["needed_concurrency"]
    if needed is not None:
        table.add_row("throttle that keeps one core busy", str(needed))
        table.add_row(
            f"at --throttle {figures['throttle']}",
            f"{figures['limit']}-bound, ~{_num(figures['predicted_hosts_per_s'])} hosts/s",
        )
    return table


def _failure_table(figures: dict[str, Any]) -> Table:
    table = Table(title="Failures", title_justify="left")
    for name in ("class", "hosts", "first"):
        table.add_column(name)
    for failure_class, count in sorted(figures["failures"].items()):
        first = next(h for h in figures["per_host"] if h["status"] == failure_class)
        table.add_row(
            failure_class, str(count), f"{first['host']} ({first['phase']}): {first['error']}"
        )
    return table


def _host_table(figures: dict[str, Any], show: int) -> Table:
    hosts = sorted(
        figures["per_host"], key=lambda h: (h["status"] == "ok", -(h["total_ms"] or 0.0))
    )
    title = "Per host, failed then slowest"
    if len(hosts) > show:
        title += f" ({show} of {len(hosts)}; --json lists all)"
    table = Table(title=title, title_justify="left")
    table.add_column("host", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for name in ("RTT", "connect", "open", "warm p50", "warm max", "RT/cmd"):
        table.add_column(name, justify="right", no_wrap=True)
    for host in hosts[:show]:
        warm = host["warm_ms"] or {}
        table.add_row(
            host["host"],
            host["status"],
            _num(host["rtt_ms"]),
            _num(host["connect_ms"]),
            _num(host["pool_open_ms"]),
            _num(warm.get("p50")),
            _num(warm.get("max")),
            _num(host["round_trips_per_command"]),
        )
    return table

"""`psfleet run TARGETS -c SCRIPT`: the fan-out from the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from psfleet import eventloop
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.disconnected import DisconnectedArgs, start_run
from psfleet.cli.executor_options import ExecutorArgs, ExecutorKind, open_executor
from psfleet.cli.fanout_options import FanoutArgs
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.output_options import JsonOutput, LogJson, OutputDir, Quiet
from psfleet.cli.recording import NothingToRerun, Recording, Rerun, run_targets
from psfleet.cli.session_setup import CREDSSP_WARNING, run_with_sinks
from psfleet.cli.store_options import StoreArgs
from psfleet.cli.target_options import Inventory, Targets
from psfleet.errors import UsageError
from psfleet.fanout.api import RunControl, Sink, arun
from psfleet.fanout.executor import Executor
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult
from psfleet.logs import configure_json_file

EXIT_USAGE = 2
TRANSFERS = ("copy", "fetch")  # recorded runs whose `command` is no PowerShell


@with_option_groups(
    connection=ConnectionArgs,
    fanout=FanoutArgs,
    cluster_run=ExecutorArgs,
    store=StoreArgs,
    detach=DisconnectedArgs,
)
def run(
    targets: Targets = None,
    *,
    command: Annotated[
        list[str] | None,
        typer.Option("-c", "--command", help="PowerShell to run; repeat for several commands."),
    ] = None,
    file: Annotated[Path | None, typer.Option("-f", "--file", help="A .ps1 script to run.")] = None,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", help="A value for $args; repeat for several.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="Run on every node of this failover cluster (Get-ClusterNode)."),
    ] = None,
    inventory: Inventory = None,
    connection: ConnectionArgs,
    fanout: FanoutArgs,
    cluster_run: ExecutorArgs,
    json_output: JsonOutput = False,
    output_dir: OutputDir = None,
    log_json: LogJson = None,
    quiet: Quiet = False,
    store: StoreArgs,
    detach: DisconnectedArgs,
) -> None:
    """Run PowerShell on many hosts at once.

    Exit code: 0 every host ok, 1 some host not ok, 2 usage error, 130 interrupted.
    """
    try:
        rerun = Rerun.load(store.rerun, store.state_dir) if store.rerun else None
        if rerun is not None and not command and file is None:
            if rerun.kind in TRANSFERS:
                raise UsageError(
                    f"run {rerun.run_id} was a {rerun.kind}: give -c, or use "
                    f"psfleet {rerun.kind} --rerun {store.rerun} with its paths"
                )
            command, arg = rerun.commands, arg or [str(a) for a in rerun.args]
        scripts = _scripts(command or [], file)
        recording = Recording.of_run(store, connection, fanout, targets, cluster, inventory)
        connecting = connection.run_options(**cluster_run.password_use(cluster=bool(cluster)))
        options = dataclasses.replace(fanout.apply(connecting), collect=False)
        if log_json is not None:
            configure_json_file(log_json)
        if connection.auth == "credssp" and not quiet:
            typer.echo(CREDSSP_WARNING, err=True)
        if detach.disconnected:
            if cluster_run.executor is not ExecutorKind.LOCAL:
                raise UsageError("--disconnected runs on the local executor only")
            raise typer.Exit(
                eventloop.run(
                    start_run,
                    targets or [],
                    cluster,
                    inventory,
                    scripts,
                    list(arg or []),
                    options,
                    recording,
                    detach.idle_timeout,
                    rerun,
                    json_output,
                )
            )
        password_file = None if connection.password_file is None else str(connection.password_file)
        with open_executor(cluster_run, options, password_file) as where:
            result = eventloop.run(
                _main,
                targets or [],
                cluster,
                inventory,
                scripts,
                list(arg or []),
                options,
                where,
                json_output,
                output_dir,
                quiet,
                rerun,
                recording,
            )
    except UsageError as exc:
        typer.echo(f"psfleet run: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except NothingToRerun as exc:
        typer.echo(f"psfleet run: {exc}", err=True)
        raise typer.Exit(0) from exc
    raise typer.Exit(result.exit_code)


def _scripts(commands: list[str], file: Path | None) -> list[str]:
    scripts = [c for c in commands if c.strip()]
    if file is not None:
        try:
            scripts.append(file.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}") from exc
    if not scripts:
        raise UsageError("nothing to run: give -c 'SCRIPT' or -f script.ps1")
    return scripts


async def _main(
    expressions: list[str],
    cluster: str | None,
    inventory: Path | None,
    scripts: list[str],
    args: list[Any],
    options: RunOptions,
    executor: Executor,
    json_output: bool,
    output_dir: Path | None,
    quiet: bool,
    rerun: Rerun | None,
    recording: Recording,
) -> FleetResult:
    hosts = await run_targets(rerun, expressions, cluster, inventory, options)

    async def work(sinks: list[Sink], control: RunControl) -> FleetResult:
        return await arun(
            hosts,
            scripts,
            args=args,
            sinks=sinks,
            options=options,
            control=control,
            executor=executor,
        )

    return await run_with_sinks(
        hosts,
        recording.sinks(hosts, scripts, args),
        work,
        json_output=json_output,
        output_dir=output_dir,
        quiet=quiet,
        stopping="stopping pipelines and closing pools",
    )

"""`psfleet run TARGETS -c SCRIPT`: the fan-out from the command line."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer

from psfleet import eventloop
from psfleet.cli import common
from psfleet.cli.common import ConnectionArgs
from psfleet.cli.session_setup import CREDSSP_WARNING, open_sinks, resolve_all_targets
from psfleet.errors import UsageError
from psfleet.fanout.api import RunControl, arun
from psfleet.fanout.options import DEFAULT_THROTTLE, RunOptions
from psfleet.fanout.result import FleetResult
from psfleet.logs import configure_json_file

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def run(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Hosts: names, a,b,c lists, node[01-64] ranges, @file, inventory patterns."
        ),
    ] = None,
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
    inventory: common.Inventory = None,
    auth: common.Auth = "negotiate",
    user: common.User = None,
    password_file: common.PasswordFile = None,
    ssl: common.Ssl = False,
    port: common.Port = None,
    ca_file: common.CaFile = None,
    insecure_skip_tls_verify: common.Insecure = False,
    client_cert: common.ClientCert = None,
    client_key: common.ClientKey = None,
    configuration_name: common.Configuration = "Microsoft.PowerShell",
    delegate_to: common.DelegateTo = None,
    delegate: common.Delegate = False,
    allow_basic_over_http: common.AllowBasicHttp = False,
    max_auth_failures: common.MaxAuthFailures = 3,
    throttle: Annotated[
        int, typer.Option(min=1, help="Hosts in flight at once (Invoke-Command's ThrottleLimit).")
    ] = DEFAULT_THROTTLE,
    connect_rate: Annotated[
        float | None, typer.Option(min=0.001, help="New connections per second at most.")
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, help="Retries of a retryable failure before any command ran.")
    ] = 2,
    retry_started: Annotated[
        bool,
        typer.Option(help="The commands are idempotent: retry even after they may have started."),
    ] = False,
    timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds per host, retries included.")
    ] = None,
    run_timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds for the whole run.")
    ] = None,
    connect_timeout: common.ConnectTimeout = 10.0,
    operation_timeout: common.OperationTimeout = 20.0,
    json_output: Annotated[
        bool, typer.Option("--json", help="JSON Lines events on stdout instead of the console.")
    ] = False,
    output_dir: Annotated[
        Path | None, typer.Option(help="Write per-host output, errors and result.json here.")
    ] = None,
    log_json: Annotated[
        Path | None, typer.Option(help="Write the run's log events (JSON lines) to this file.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print the summary only.")] = False,
) -> None:
    """Run PowerShell on many hosts at once.

    Exit code: 0 every host ok, 1 some host not ok, 2 usage error, 130 interrupted.
    """
    try:
        scripts = _scripts(command or [], file)
        connection = ConnectionArgs.pick(locals())
        options = RunOptions(
            client=common.build_client_options(connection),
            throttle=throttle,
            connect_rate=connect_rate,
            retries=retries,
            retry_started=retry_started,
            host_timeout=timeout,
            run_timeout=run_timeout,
            port=port,
            tls=ssl,
            collect=False,
        )
        if log_json is not None:
            configure_json_file(log_json)
        if auth == "credssp" and not quiet:
            typer.echo(CREDSSP_WARNING, err=True)
        result = eventloop.run(
            _main,
            targets or [],
            cluster,
            inventory,
            scripts,
            list(arg or []),
            options,
            json_output,
            output_dir,
            quiet,
        )
    except UsageError as exc:
        typer.echo(f"psfleet run: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
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
    json_output: bool,
    output_dir: Path | None,
    quiet: bool,
) -> FleetResult:
    hosts = await resolve_all_targets(expressions, cluster, inventory, options)
    control = RunControl()
    async with (
        open_sinks(
            len(hosts), json_output=json_output, output_dir=output_dir, quiet=quiet
        ) as sinks,
        anyio.create_task_group() as group,
    ):
        group.start_soon(_watch_signals, control)
        result = await arun(
            hosts, scripts, args=args, sinks=sinks, options=options, control=control
        )
        group.cancel_scope.cancel()
    return result


async def _watch_signals(control: RunControl) -> None:
    """First SIGINT/SIGTERM: stop pipelines and close pools; the second: leave at once."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if control.interrupted:
                sys.stderr.write("psfleet: interrupted twice, exiting now\n")
                os._exit(EXIT_INTERRUPTED)
            sys.stderr.write("psfleet: interrupting: stopping pipelines and closing pools...\n")
            control.interrupt()

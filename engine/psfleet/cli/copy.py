"""`psfleet copy SRC DEST TARGETS...` and `psfleet fetch SRC DEST_DIR TARGETS...`.

The same connection, target, throttle, timeout, retry, output and run store options as
`psfleet run` (declared once, in connection_options/fanout_options/store_options), and its
exit codes. Each is recorded in the run store as a run of kind `copy` or `fetch`.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from psfleet import eventloop
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.fanout_options import FanoutArgs
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.output_options import JsonOutput, LogJson, OutputDir, Quiet
from psfleet.cli.recording import NothingToRerun, Recording, Rerun, run_targets
from psfleet.cli.session_setup import CREDSSP_WARNING, run_with_sinks
from psfleet.cli.store_options import StoreArgs
from psfleet.cli.target_options import Inventory
from psfleet.errors import UsageError
from psfleet.fanout.api import RunControl, Sink
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult
from psfleet.logs import configure_json_file
from psfleet.targets.model import Target
from psfleet.transfer.api import acopy, afetch, check_dest_dir, check_source

EXIT_USAGE = 2

Hosts = Annotated[
    list[str] | None,
    typer.Argument(
        help="Hosts: names, a,b,c lists, node[01-64] ranges, @file, inventory patterns "
        "(or --rerun RUN:SELECT)."
    ),
]
Recurse = Annotated[
    bool, typer.Option("--recurse", "-r", help="SRC is a folder: copy its tree, file by file.")
]

Transfer = Callable[[list[Target], list[Sink], RunOptions, RunControl], Awaitable[FleetResult]]


@with_option_groups(connection=ConnectionArgs, fanout=FanoutArgs, store=StoreArgs)
def copy(
    src: Annotated[Path, typer.Argument(help="The local file (or folder, with --recurse).")],
    dest: Annotated[str, typer.Argument(help=r"The remote path, e.g. C:\Windows\Temp\app.msi.")],
    targets: Hosts = None,
    *,
    force: Annotated[
        bool, typer.Option("--force", help="Send even to hosts whose file has the same SHA-256.")
    ] = False,
    recurse: Recurse = False,
    inventory: Inventory = None,
    connection: ConnectionArgs,
    fanout: FanoutArgs,
    json_output: JsonOutput = False,
    output_dir: OutputDir = None,
    log_json: LogJson = None,
    quiet: Quiet = False,
    store: StoreArgs,
) -> None:
    """Push a local file to every host, verified by SHA-256 and moved into place atomically.

    Exit code: 0 every host ok, 1 some host not ok, 2 usage error, 130 interrupted.
    """

    async def transfer(
        hosts: list[Target], sinks: list[Sink], options: RunOptions, control: RunControl
    ) -> FleetResult:
        return await acopy(
            hosts,
            src,
            dest,
            force=force,
            recurse=recurse,
            sinks=sinks,
            options=options,
            control=control,
        )

    flags = [*(["--recurse"] if recurse else []), *(["--force"] if force else [])]
    _run_transfer(
        "copy", lambda: check_source(src, recurse), transfer, targets, inventory,
        connection, fanout, json_output, output_dir, log_json, quiet,
        store, shlex.join(["copy", str(src), dest, *flags]),
    )  # fmt: skip


@with_option_groups(connection=ConnectionArgs, fanout=FanoutArgs, store=StoreArgs)
def fetch(
    src: Annotated[str, typer.Argument(help=r"The remote file, e.g. C:\Logs\app.log.")],
    dest_dir: Annotated[Path, typer.Argument(help="Local folder: files go to DEST_DIR/<host>/.")],
    targets: Hosts = None,
    *,
    recurse: Recurse = False,
    inventory: Inventory = None,
    connection: ConnectionArgs,
    fanout: FanoutArgs,
    json_output: JsonOutput = False,
    output_dir: OutputDir = None,
    log_json: LogJson = None,
    quiet: Quiet = False,
    store: StoreArgs,
) -> None:
    """Pull a remote file from every host into DEST_DIR/<host>/<name>, verified by SHA-256.

    Exit code: 0 every host ok, 1 some host not ok, 2 usage error, 130 interrupted.
    """

    async def transfer(
        hosts: list[Target], sinks: list[Sink], options: RunOptions, control: RunControl
    ) -> FleetResult:
        return await afetch(
            hosts, src, dest_dir, recurse=recurse, sinks=sinks, options=options, control=control
        )

    flags = ["--recurse"] if recurse else []
    _run_transfer(
        "fetch", lambda: check_dest_dir(dest_dir), transfer, targets, inventory,
        connection, fanout, json_output, output_dir, log_json, quiet,
        store, shlex.join(["fetch", src, str(dest_dir), *flags]),
    )  # fmt: skip


def _run_transfer(
    name: str,
    check: Callable[[], None],
    transfer: Transfer,
    targets: list[str] | None,
    inventory: Path | None,
    connection: ConnectionArgs,
    fanout: FanoutArgs,
    json_output: bool,
    output_dir: Path | None,
    log_json: Path | None,
    quiet: bool,
    store: StoreArgs,
    command: str,
) -> None:
    """`command`: the transfer as the run store records it (`copy SRC DEST --force`)."""
    try:
        check()  # bad input is a usage error before anything runs
        rerun = Rerun.load(store.rerun, store.state_dir) if store.rerun else None
        if rerun is None and not targets:
            raise UsageError("no targets: give TARGETS or --rerun RUN:SELECT")
        recording = Recording.of_run(store, connection, fanout, targets, None, inventory)
        options = dataclasses.replace(fanout.apply(connection.run_options()), collect=False)
        if log_json is not None:
            configure_json_file(log_json)
        if connection.auth == "credssp" and not quiet:
            typer.echo(CREDSSP_WARNING, err=True)
        result = eventloop.run(
            _main, transfer, targets or [], inventory, options, json_output, output_dir,
            quiet, rerun, recording, name, command,
        )  # fmt: skip
    except UsageError as exc:
        typer.echo(f"psfleet {name}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    except NothingToRerun as exc:
        typer.echo(f"psfleet {name}: {exc}", err=True)
        raise typer.Exit(0) from exc
    raise typer.Exit(result.exit_code)


async def _main(
    transfer: Transfer,
    expressions: list[str],
    inventory: Path | None,
    options: RunOptions,
    json_output: bool,
    output_dir: Path | None,
    quiet: bool,
    rerun: Rerun | None,
    recording: Recording,
    kind: str,
    command: str,
) -> FleetResult:
    hosts = await run_targets(rerun, expressions, None, inventory, options)

    async def work(sinks: list[Sink], control: RunControl) -> FleetResult:
        return await transfer(hosts, sinks, options, control)

    return await run_with_sinks(
        hosts,
        recording.sinks(hosts, [command], [], kind=kind),
        work,
        json_output=json_output,
        output_dir=output_dir,
        quiet=quiet,
        stopping="stopping transfers (temporary files removed) and closing pools",
    )

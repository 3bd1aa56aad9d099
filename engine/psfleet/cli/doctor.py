"""`psfleet doctor HOST`: check one host step by step and say how to fix what fails."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from psfleet import eventloop
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.session_setup import CREDSSP_WARNING
from psfleet.cli.target_options import Host, Inventory
from psfleet.doctor import CheckStatus, DoctorReport, check_second_hop_name, diagnose
from psfleet.errors import UsageError
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.targets import resolve_targets

EXIT_USAGE = 2


@with_option_groups(connection=ConnectionArgs)
def doctor(
    host: Host,
    *,
    second_hop: Annotated[
        str | None,
        typer.Option(
            "--second-hop",
            metavar="OTHER",
            help="Also check, for each auth method, whether a session on HOST reaches OTHER.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of the table.")
    ] = False,
    inventory: Inventory = None,
    connection: ConnectionArgs,
) -> None:
    """Diagnose one host: KDC, name, TCP, TLS, WinRM listener, auth, credentials, quota, double hop.

    Changes nothing on the host. Exit code: 0 every check passed, 1 some failed, 2 usage error.
    """
    try:
        other = check_second_hop_name(second_hop) if second_hop is not None else None
        options = connection.run_options()
        targets = resolve_targets([host], inventory, options.port)
        if len(targets) != 1:
            raise UsageError(f"{host!r} names {len(targets)} hosts; psfleet doctor takes one")
    except UsageError as exc:
        typer.echo(f"psfleet doctor: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    if connection.auth == "credssp" or (other is not None and connection.delegate_to is not None):
        typer.echo(CREDSSP_WARNING, err=True)
    target = targets[0]
    endpoint = endpoint_for(target, options)
    report = eventloop.run(
        lambda: diagnose(endpoint, client_options_for(target, options.client), second_hop=other)
    )
    if json_output:
        typer.echo(json.dumps(report.as_json()))
    else:
        _print_table(report, endpoint.url)
    raise typer.Exit(0 if report.ok else 1)


_RESULTS = {
    CheckStatus.PASSED: ("✓ pass", "green"),
    CheckStatus.FAILED: ("✗ FAIL", "bold red"),
    CheckStatus.SKIPPED: ("- skipped", "dim"),
}


def _print_table(report: DoctorReport, url: str) -> None:
    table = Table(title=f"psfleet doctor {report.host} ({url})", show_lines=True)
    table.add_column("Check", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Detail")
    table.add_column("Remedy")
    for check in report.checks:
        result = Text(*_RESULTS[check.status])
        table.add_row(check.name, result, Text(check.detail), Text(check.remedy or ""))
    console = Console()
    console.print(table)
    summary = f"{report.count(CheckStatus.PASSED)} of {len(report.checks)} checks passed"
    skipped = report.count(CheckStatus.SKIPPED)
    if skipped:
        summary += f", {skipped} skipped (fix the first failure)"
    console.print(summary, highlight=False)

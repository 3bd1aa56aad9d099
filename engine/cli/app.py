"""The `psfleet` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

import typer

from psfleet.cli import sim

app = typer.Typer(
    name="psfleet",
    help="Run the same PowerShell on many Windows hosts at once over WinRM/PSRP.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("sim")(sim.sim)


def main() -> None:
    app()

"""The `psfleet` command: a thin layer over the Python API, one module per subcommand."""

from __future__ import annotations

from typing import Annotated

import typer

from psfleet import __version__, eventloop
from psfleet.cli import bench, copy, disconnected, doctor, run, runs, shell, sim
from psfleet.logs import configure_cli

app = typer.Typer(
    name="psfleet",
    help="Run the same PowerShell on many Windows hosts at once over WinRM/PSRP.",
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"psfleet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Run the same PowerShell on many Windows hosts at once over WinRM/PSRP."""


app.command("run")(run.run)
app.command("copy")(copy.copy)
app.command("fetch")(copy.fetch)
app.command("shell")(shell.shell)
app.command("sim")(sim.sim)
app.command("doctor")(doctor.doctor)
app.command("bench")(bench.bench)
app.command("runs")(runs.runs)
app.command("show")(runs.show)
app.command("receive")(disconnected.receive)


def main() -> None:
    configure_cli()  # the command is the application: its logging is ours to set, not a library's
    eventloop.freeze_startup_heap()  # and so is its garbage collection
    try:
        app()
    except KeyboardInterrupt:
        # Ctrl-C before a command installed its own handler (during start-up).
        raise SystemExit(130) from None

"""`psfleet shell HOST`: the Enter-PSSession of psfleet.

One pool stays open on the host; each line runs as a pipeline on it, its streams
printed as they arrive. The event loop lives in a portal thread so the prompt keeps
the terminal: readline history, and Ctrl-C at any moment after Enter stops that
line's pipeline (Signal), not the session (see `ctrl_c`). `exit` (or Ctrl-D) closes
the pool.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import anyio.from_thread
import typer

from psfleet import eventloop
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.ctrl_c import CtrlC, keep_sigint_off_this_thread
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.target_options import Host, Inventory
from psfleet.client import open_lone_pool
from psfleet.errors import PsfleetError, UsageError
from psfleet.events import RecordEvent, Stream
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.session.pool import RunspacePool
from psfleet.session.records import PipelineState
from psfleet.sinks import load_sink
from psfleet.targets import resolve_targets

with contextlib.suppress(ImportError):  # line editing and history where the platform has it
    import readline  # noqa: F401

EXIT_WORDS = frozenset({"exit", "exit-pssession", "quit"})


@with_option_groups(connection=ConnectionArgs)
def shell(
    host: Host,
    *,
    inventory: Inventory = None,
    connection: ConnectionArgs,
) -> None:
    """An interactive session on one host, like Enter-PSSession."""
    try:
        options = connection.run_options()
        target = _one_target(host, inventory, options.port)
        console = load_sink("console", quiet=False, show_progress=False)
    except UsageError as exc:
        typer.echo(f"psfleet shell: {exc}", err=True)
        raise typer.Exit(2) from exc
    with anyio.from_thread.start_blocking_portal(*eventloop.anyio_backend()) as portal:
        # Ctrl-C must wake the main thread; blocked here before the loop starts any thread.
        portal.call(keep_sigint_off_this_thread)
        try:
            pool = portal.call(
                open_lone_pool,
                endpoint_for(target, options),
                client_options_for(target, options.client),
            )
        except PsfleetError as exc:
            typer.echo(f"psfleet shell: cannot open a session on {target.name}: {exc}", err=True)
            raise typer.Exit(1) from exc
        try:
            with CtrlC() as ctrl_c:
                _repl(portal, pool, console, target.name, ctrl_c)
        finally:
            portal.call(pool.aclose)


def _one_target(host: str, inventory: Path | None, port: int | None) -> Any:
    targets = resolve_targets([host], inventory, port)
    if len(targets) != 1:
        raise UsageError(f"{host!r} names {len(targets)} hosts; psfleet shell takes one")
    return targets[0]


def _repl(
    portal: anyio.from_thread.BlockingPortal,
    pool: RunspacePool,
    console: Any,
    host: str,
    ctrl_c: CtrlC,
) -> None:
    while True:
        try:
            line = ctrl_c.read_line(f"[{host}]: PS> ")
        except EOFError:
            print()
            return
        except KeyboardInterrupt:
            print()
            continue
        if line.strip().lower() in EXIT_WORDS:
            return
        if not line.strip():
            continue
        try:
            stopped = portal.call(_run_line, pool, console, line, ctrl_c)
        except PsfleetError as exc:
            print(f"error: {exc}")
            continue
        if stopped:
            print("^C (pipeline stopped)")


async def _run_line(pool: RunspacePool, console: Any, line: str, ctrl_c: CtrlC) -> bool:
    """Run one line, its records printed as they come; True when Ctrl-C stopped it."""
    pipeline = pool.stream(line)
    # Entering the pipeline sends the Command; Ctrl-C is heeded once the host answered
    # it, so there is a command to Signal (cancelled before, the pipeline had none and
    # ran to its end on the host). Leaving it stops the pipeline if it still runs.
    async with pipeline, ctrl_c.cancel_scope() as on_ctrl_c:
        async for record in pipeline:
            await console.handle(record)
    if on_ctrl_c.cancelled_caught:
        return True
    if pipeline.state is PipelineState.FAILED and pipeline.reason is not None:
        await console.handle(RecordEvent(pool.host, Stream.ERROR, pipeline.reason))
    return False

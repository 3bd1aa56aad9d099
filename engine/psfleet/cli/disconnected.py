"""`psfleet run --disconnected` and `psfleet receive RUN`: commands left running on the
hosts (Invoke-Command -InDisconnectedSession), collected later (Receive-PSSession)."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

import anyio
import typer

from psfleet import eventloop
from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.fanout_options import FanoutArgs
from psfleet.cli.interrupts import EXIT_INTERRUPTED, interruptible
from psfleet.cli.option_groups import with_option_groups
from psfleet.cli.output_options import JsonOutput, LogJson, OutputDir, Quiet
from psfleet.cli.recording import Recording, Rerun, as_recorded, run_targets, warn
from psfleet.cli.session_setup import open_sinks, resolve_all_targets
from psfleet.cli.store_options import StateDir
from psfleet.cli.target_options import Inventory
from psfleet.errors import UsageError
from psfleet.events import Event, HostDone, HostStatus, RunSummary
from psfleet.fanout.api import Sink
from psfleet.fanout.disconnected import (
    NEVER_STARTED,
    Session,
    one_script,
    receive_disconnected,
    start_disconnected,
)
from psfleet.fanout.options import RunOptions
from psfleet.logs import configure_json_file
from psfleet.serialize import JsonValue, dumps, event_to_json
from psfleet.store import (
    DISCONNECTED,
    Claim,
    Claimed,
    PlannedHost,
    RunPlan,
    RunRecorder,
    StoredHost,
    StoredRun,
    StoreUnavailable,
    db_path,
    find_run,
    open_store,
    receive_claim_path,
    run_hosts,
)
from psfleet.store import state_dir as store_location
from psfleet.targets.model import Target

EXIT_USAGE = 2
# A receive that ends a host with one of these leaves it to a later receive: the command
# may still be running, or its output still waiting, on the host.
_TRY_AGAIN = frozenset(
    {
        HostStatus.UNREACHABLE,
        HostStatus.AUTH_FAILED,
        HostStatus.TIMEOUT,
        HostStatus.CANCELLED,
        HostStatus.PROTOCOL_ERROR,
    }
)


@dataclass(frozen=True, slots=True)
class DisconnectedArgs:
    disconnected: Annotated[
        bool,
        typer.Option(
            "--disconnected",
            help="Start the command, leave it running on each host, exit (psfleet receive).",
        ),
    ] = False
    idle_timeout: Annotated[
        float | None,
        typer.Option(
            min=1, help="--disconnected: seconds each host keeps the session (its default: 2 h)."
        ),
    ] = None


async def start_run(
    expressions: list[str],
    cluster: str | None,
    inventory: Path | None,
    scripts: list[str],
    args: list[Any],
    options: RunOptions,
    recording: Recording,
    idle_timeout_s: float | None,
    rerun: Rerun | None = None,
    json_output: bool = False,
) -> int:
    """Start on every host, record the ids first; prints the run id. Exit code 0, 1, or
    130 when interrupted (the commands already started are left disconnected).

    `json_output`: JSON lines instead: a `host_done` per host that could not be started,
    then one `disconnected` event with the run id and the counts."""
    if not recording.enabled:
        raise UsageError(
            "--disconnected needs the run store (it keeps the sessions): no --no-store"
        )
    hosts = await run_targets(rerun, expressions, cluster, inventory, options)
    sessions = {target.name: Session.new() for target in hosts}
    plan = RunPlan(
        commands=scripts,
        hosts=[
            PlannedHost(
                t.name,
                t.address,
                t.port,
                str(sessions[t.name].pool_id),
                str(sessions[t.name].pipeline_id),
            )
            for t in hosts
        ],
        targets_given=recording.targets_given,
        options=recording.options,
        args=[str(a) for a in args],
        kind=DISCONNECTED,
        keep_output=recording.keep_output,
        idle_timeout_s=idle_timeout_s,  # a receive that leaves a host asks for it again
    )
    recorder = await RunRecorder.start(store_location(recording.state_dir), plan, warn)
    if not recorder.recorded:
        await recorder.aclose()
        raise UsageError("--disconnected: the run store cannot be written, nothing was started")
    begun = time.monotonic()
    failed: list[HostDone] = []

    async def emit(event: Event) -> None:
        if isinstance(event, HostDone):
            failed.append(event)
            if json_output:
                sys.stdout.write(dumps(event_to_json(event)) + "\n")
            else:
                sys.stdout.write(f"[{event.host}] {event.status}: {event.error_message}\n")
        await recorder.handle(event)

    try:
        stopping = "commands already started stay disconnected, the other pools are closed"
        async with interruptible(stopping) as work:
            await start_disconnected(
                hosts, sessions, one_script(scripts), args, options, emit,
                idle_timeout_s=idle_timeout_s,
            )  # fmt: skip
        counts = {status: 0 for status in HostStatus}
        for done in failed:
            counts[done.status] += 1
        summary = RunSummary(
            counts=counts, wall_s=time.monotonic() - begun, interrupted=work.cancel_called
        )
        await recorder.handle(summary)
    finally:
        await recorder.aclose()
    started = len(hosts) - len(failed)
    if json_output:
        _print_json_end(recorder.run_id, started, len(hosts), work.cancel_called)
    elif work.cancel_called:
        sys.stdout.write(f"Interrupted: started on {started} of {len(hosts)} hosts, left ")
    else:
        sys.stdout.write(f"Started on {started} of {len(hosts)} hosts and ")
    if not json_output:
        sys.stdout.write(
            f"disconnected: run {recorder.run_id}\nCollect the output with: psfleet receive "
            f"{recorder.run_id}\n"
        )
    if work.cancel_called:
        return EXIT_INTERRUPTED
    return 1 if failed else 0


def _print_json_end(run_id: str, started: int, hosts: int, interrupted: bool) -> None:
    end: dict[str, JsonValue] = {
        "event": "disconnected",
        "run_id": run_id,
        "started": started,
        "hosts": hosts,
        "interrupted": interrupted,
        "receive": f"psfleet receive {run_id}",
    }
    sys.stdout.write(dumps(end) + "\n")


class _Settled:
    """The recorder, told only of hosts settled for good (not those a later receive retries)."""

    def __init__(self, recorder: RunRecorder) -> None:
        self._recorder = recorder

    async def handle(self, event: Event) -> None:
        if isinstance(event, HostDone) and event.status in _TRY_AGAIN and not _final(event):
            return
        await self._recorder.handle(event)


def _final(done: HostDone) -> bool:
    """A host whose start never came to it: no pool, nothing to collect later."""
    return done.error_type == NEVER_STARTED


@with_option_groups(connection=ConnectionArgs, fanout=FanoutArgs)
def receive(
    run: Annotated[str, typer.Argument(help="The disconnected run (its id, or `last`).")],
    *,
    inventory: Inventory = None,
    connection: ConnectionArgs,
    fanout: FanoutArgs,
    json_output: JsonOutput = False,
    output_dir: OutputDir = None,
    log_json: LogJson = None,
    quiet: Quiet = False,
    state_dir: StateDir = None,
) -> None:
    """Collect the output of a `psfleet run --disconnected`: every host not received yet.

    Connection options left at their defaults are the run's (its user and auth among them).

    Exit code: 0 every host ok, 1 some host not ok, 2 usage error or another receive of
    the run still running, 130 interrupted (the hosts not finished stay receivable).
    """
    try:
        claim, stored, hosts = _receivable(run, state_dir)
    except UsageError as exc:
        typer.echo(f"psfleet receive: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        if not hosts:
            typer.echo(f"psfleet receive: every host of run {stored.id} was received", err=True)
            raise typer.Exit(0)
        options = fanout.apply(as_recorded(connection, stored.options).run_options())
        if log_json is not None:
            configure_json_file(log_json)
        summary = eventloop.run(
            _receive_main,
            stored,
            hosts,
            inventory or _recorded_inventory(stored),
            options,
            state_dir,
            json_output,
            output_dir,
            quiet,
        )
    except UsageError as exc:
        typer.echo(f"psfleet receive: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    finally:
        claim.release()
    if summary is None:
        typer.echo(
            f"psfleet receive: interrupted; collect the rest with: psfleet receive {stored.id}",
            err=True,
        )
        raise typer.Exit(EXIT_INTERRUPTED)
    ok = summary.counts.get(HostStatus.OK, 0) == sum(summary.counts.values())
    raise typer.Exit(0 if ok else 1)


def _receivable(ref: str, store_dir: Path | None) -> tuple[Claim, StoredRun, list[StoredHost]]:
    """The run's claim (this process alone receives it), the run, its hosts left."""
    try:
        conn = open_store(db_path(store_dir), warn)
    except StoreUnavailable as exc:
        raise UsageError(str(exc)) from exc
    with closing(conn):
        try:
            run = find_run(conn, ref)
            if run.kind != DISCONNECTED:
                raise UsageError(f"run {run.id} was not started with --disconnected")
            # Claimed before its hosts are read: what a receive before this one left is final.
            claim = _claim(run.id, store_dir)
            try:
                hosts = run_hosts(conn, run)
            except BaseException:
                claim.release()
                raise
        except sqlite3.Error as exc:
            raise UsageError(f"cannot read the run store: {exc}") from exc
    waiting = [h for h in hosts if h.status == DISCONNECTED and h.pool_id and h.pipeline_id]
    return claim, run, waiting


def _recorded_inventory(run: StoredRun) -> Path | None:
    inventory = run.targets_given.get("inventory")
    return Path(inventory) if isinstance(inventory, str) else None


def _claim(run_id: str, store_dir: Path | None) -> Claim:
    try:
        return Claim(receive_claim_path(store_location(store_dir), run_id))
    except Claimed as exc:
        raise UsageError(
            f"another psfleet receive of run {run_id} is running: wait for it to end"
        ) from exc
    except OSError as exc:
        raise UsageError(f"cannot claim run {run_id} in the run store: {exc}") from exc


async def _receive_main(
    run: StoredRun,
    hosts: Sequence[StoredHost],
    inventory: Path | None,
    options: RunOptions,
    store_dir: Path | None,
    json_output: bool,
    output_dir: Path | None,
    quiet: bool,
) -> RunSummary | None:
    """The receive's summary; None when Ctrl-C (or SIGTERM) stopped it."""
    targets = await _targets(hosts, inventory, options)
    sessions = {
        h.host: Session(UUID(str(h.pool_id)), UUID(str(h.pipeline_id)), attempted=h.attempts > 0)
        for h in hosts
    }
    recorder = await RunRecorder.start(
        store_location(store_dir), RunPlan(commands=[], hosts=[]), warn, resume=run.id
    )
    try:
        async with open_sinks(
            len(targets), json_output=json_output, output_dir=output_dir, quiet=quiet
        ) as sinks:
            all_sinks: list[Sink] = [*sinks, _Settled(recorder)]

            async def emit(event: Event) -> None:
                for sink in all_sinks:
                    await sink.handle(event)

            summary: RunSummary | None = None
            stopping = "the pools still running are disconnected again for a later receive"
            async with interruptible(stopping) as work:
                summary = await receive_disconnected(
                    targets, sessions, options, emit, idle_timeout_s=run.idle_timeout_s
                )
            # Interrupted: the hosts not finished stay `disconnected` in the store (no
            # HostDone reached it), their pools disconnected again by receive_disconnected.
            return None if work.cancel_called else summary
    finally:
        with anyio.CancelScope(shield=True):
            await recorder.aclose()


async def _targets(
    hosts: Sequence[StoredHost], inventory: Path | None, options: RunOptions
) -> list[Target]:
    """Through the inventory again when there was one (its variables are not recorded)."""
    if inventory is not None:
        names = [h.host for h in hosts]
        return await resolve_all_targets(names, None, inventory, options)
    return [Target(h.host, h.address, h.port or options.port) for h in hosts]

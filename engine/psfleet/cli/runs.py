"""`psfleet runs` and `psfleet show RUN`: the runs recorded in the run store."""

from __future__ import annotations

import datetime
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Annotated, TypeVar

import anyio
import typer

from psfleet.cli.recording import warn
from psfleet.cli.replay import replay
from psfleet.cli.store_options import StateDir, parse_age
from psfleet.errors import UsageError
from psfleet.serialize import JsonValue, dumps
from psfleet.sinks import load_sink
from psfleet.store import (
    StoredRun,
    StoreUnavailable,
    db_path,
    find_run,
    list_runs,
    open_store,
    prune,
    run_hosts,
    run_records,
)

T = TypeVar("T")
EXIT_USAGE = 2
_COMMAND_WIDTH = 60


def runs(
    json_output: Annotated[bool, typer.Option("--json", help="A JSON array of runs.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="How many recent runs to list.")] = 20,
    prune_older_than: Annotated[
        str | None,
        typer.Option(metavar="AGE", help="Delete the runs older than AGE (30d, 12h, 2w)."),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """List recent runs, newest first: id, when, state, hosts by status, command."""
    with _store("runs", state_dir) as conn:
        if prune_older_than is not None:
            age = _usage("runs", lambda: parse_age(prune_older_than, "--prune-older-than"))
            removed = prune(conn, time.time() - age)
            typer.echo(f"pruned {removed} run{'s' if removed != 1 else ''}", err=True)
            return
        recorded = list_runs(conn, limit)
    if json_output:
        typer.echo(dumps([run.to_json() for run in recorded]))
        return
    for run in recorded:
        typer.echo(_line(run))


def show(
    run: Annotated[str, typer.Argument(help="A run id (or a unique start of one), or `last`.")],
    host: Annotated[str | None, typer.Option(help="Only this host.")] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="The run, its hosts and their records as JSON.")
    ] = False,
    state_dir: StateDir = None,
) -> None:
    """A recorded run: its hosts' output and results, and its summary, as it printed them."""
    with _store("show", state_dir) as conn:
        stored = _usage("show", lambda: find_run(conn, run))
        hosts = run_hosts(conn, stored, host)
        if host is not None and not hosts:
            typer.echo(f"psfleet show: run {stored.id} has no host {host!r}", err=True)
            raise typer.Exit(EXIT_USAGE)
        records = run_records(conn, stored, host)
    if json_output:
        by_host: dict[str, list[JsonValue]] = {h.host: [] for h in hosts}
        for record in records:
            by_host.setdefault(record.host, []).append(record.to_json())
        document: dict[str, JsonValue] = {
            "run": {
                **stored.to_json(),
                "args": stored.args,
                "options": stored.options,
                "summary": stored.summary,
            },
            "hosts": [{**h.to_json(), "records": by_host[h.host]} for h in hosts],
        }
        typer.echo(dumps(document))
        return
    typer.echo(_header(stored))
    console = load_sink("console", show_progress=False, total=len(hosts))
    events = list(replay(stored, hosts, records))
    if host is not None:
        events = events[:-1]  # one host: its lines, not the run's summary

    async def feed() -> None:
        for event in events:
            await console.handle(event)

    anyio.run(feed)
    unfinished = [h.host for h in hosts if h.status in ("pending", "interrupted", "disconnected")]
    if unfinished:
        shown = ", ".join(unfinished[:20]) + (" ..." if len(unfinished) > 20 else "")
        typer.echo(f"{len(unfinished)} host(s) never finished (run {stored.state}): {shown}")


@contextmanager
def _store(command: str, state_dir: StateDir) -> Iterator[sqlite3.Connection]:
    try:
        conn = open_store(db_path(state_dir), warn)
    except StoreUnavailable as exc:
        typer.echo(f"psfleet {command}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc
    try:
        with closing(conn):
            yield conn
    except sqlite3.Error as exc:
        typer.echo(f"psfleet {command}: cannot read the run store: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


def _usage(command: str, work: Callable[[], T]) -> T:
    try:
        return work()
    except UsageError as exc:
        typer.echo(f"psfleet {command}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from exc


def _when(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _line(run: StoredRun) -> str:
    counts = " ".join(f"{status}={n}" for status, n in run.counts.items() if n)
    command = " ; ".join(" ".join(c.split()) for c in run.commands)
    if len(command) > _COMMAND_WIDTH:
        command = command[: _COMMAND_WIDTH - 3] + "..."
    return (
        f"{run.id}  {_when(run.started_at)}  {run.state:<11}  {run.hosts:>5} hosts  "
        f"{counts:<30}  {command}"
    )


def _header(run: StoredRun) -> str:
    targets = run.targets_given.get("expressions") or []
    given = " ".join(str(t) for t in targets) if isinstance(targets, list) else ""
    lines = [
        f"Run {run.id} ({run.state}), started {_when(run.started_at)}, {run.hosts} hosts",
        f"Targets: {given or '-'}",
        *(f"Command: {c}" for c in run.commands),
    ]
    return "\n".join(lines)

"""What `psfleet run` records in the run store, and the hosts and commands of --rerun."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.fanout_options import FanoutArgs
from psfleet.cli.session_setup import resolve_all_targets
from psfleet.cli.store_options import StoreArgs
from psfleet.errors import UsageError
from psfleet.fanout.api import Sink
from psfleet.fanout.options import RunOptions
from psfleet.serialize import JsonValue
from psfleet.store import (
    PlannedHost,
    RunPlan,
    RunRecorder,
    StoredHost,
    StoreUnavailable,
    db_path,
    find_run,
    open_store,
    run_hosts,
    select,
    state_dir,
)
from psfleet.targets.model import Target
from psfleet.transport.options import ENV_USER

# The connection options a record keeps: names and switches, never a password or its file.
_CONNECTION_RECORDED = (
    "auth",
    "ssl",
    "port",
    "ca_file",
    "insecure_skip_tls_verify",
    "configuration_name",
    "delegate_to",
    "delegate",
    "allow_basic_over_http",
    "max_auth_failures",
    "connect_timeout",
    "operation_timeout",
)


class NothingToRerun(Exception):
    """--rerun selected no host: not an error, nothing ran."""


def warn(message: str) -> None:
    sys.stderr.write(f"psfleet: run store: {message}\n")


def recorded_options(connection: ConnectionArgs, fanout: FanoutArgs) -> dict[str, JsonValue]:
    chosen: dict[str, Any] = {name: getattr(connection, name) for name in _CONNECTION_RECORDED}
    chosen["user"] = connection.user or os.environ.get(ENV_USER)
    chosen.update(dataclasses.asdict(fanout))
    return {k: str(v) if isinstance(v, Path) else v for k, v in chosen.items()}


def as_recorded(connection: ConnectionArgs, recorded: dict[str, JsonValue]) -> ConnectionArgs:
    """The connection a recorded run used, where this command line leaves an option at its
    default: `psfleet receive` reattaches as the run connected (its user and auth among
    them; the password is read again, as it was never recorded)."""
    defaults = ConnectionArgs()
    changes: dict[str, Any] = {}
    for name in _CONNECTION_RECORDED:
        value = recorded.get(name)
        if value is not None and getattr(connection, name) == getattr(defaults, name):
            changes[name] = Path(value) if name == "ca_file" and isinstance(value, str) else value
    user = recorded.get("user")
    if connection.user is None and ENV_USER not in os.environ and isinstance(user, str):
        changes["user"] = user
    return dataclasses.replace(connection, **changes)


@dataclass(frozen=True, slots=True)
class Rerun:
    """The hosts a recorded run's SELECT names, and what it ran."""

    run_id: str
    kind: str  # run, disconnected, copy, fetch
    selection: str
    hosts: list[StoredHost]
    commands: list[str]
    args: list[JsonValue]
    inventory: Path | None

    @classmethod
    def load(cls, spec: str, store_dir: Path | None) -> Rerun:
        """Read `RUN:SELECT` from the store (before the event loop starts: a blocking read)."""
        ref, _, selection = spec.rpartition(":")
        if not ref or not selection:
            raise UsageError(f"--rerun takes RUN:SELECT (e.g. last:not-ok), not {spec!r}")
        try:
            conn = open_store(db_path(store_dir), warn)
        except StoreUnavailable as exc:
            raise UsageError(f"--rerun: {exc}") from exc
        with closing(conn):
            try:
                run = find_run(conn, ref)
                hosts = select(run_hosts(conn, run), selection)
            except sqlite3.Error as exc:
                raise UsageError(f"--rerun: cannot read the run store: {exc}") from exc
        inventory = run.targets_given.get("inventory")
        return cls(
            run.id,
            run.kind,
            selection,
            hosts,
            run.commands,
            run.args,
            Path(inventory) if isinstance(inventory, str) else None,
        )

    async def targets(
        self,
        expressions: list[str],
        cluster: str | None,
        inventory: Path | None,
        options: RunOptions,
    ) -> list[Target]:
        """The selected hosts; with TARGETS (or --cluster), those of them that were selected."""
        names = [host.host for host in self.hosts]
        if expressions or cluster is not None:
            chosen = set(names)
            given = await resolve_all_targets(expressions, cluster, inventory, options)
            hosts = [target for target in given if target.name in chosen]
        elif not names:
            hosts = []
        elif (inventory or self.inventory) is not None:
            # Through the inventory again: its variables (credentials, ports) are not recorded.
            hosts = await resolve_all_targets(names, None, inventory or self.inventory, options)
        else:
            port = options.port
            hosts = [Target(h.host, h.address, h.port or port) for h in self.hosts]
        if not hosts:
            raise NothingToRerun(
                f"no host of run {self.run_id} is {self.selection}: nothing to run"
            )
        return hosts


@dataclass(frozen=True, slots=True)
class Recording:
    """How one `psfleet run` is recorded: where, how much output, and the run's description."""

    enabled: bool
    state_dir: Path | None
    keep_output: int
    options: dict[str, JsonValue]
    targets_given: dict[str, JsonValue]

    @classmethod
    def of_run(
        cls,
        store: StoreArgs,
        connection: ConnectionArgs,
        fanout: FanoutArgs,
        expressions: list[str] | None,
        cluster: str | None,
        inventory: Path | None,
    ) -> Recording:
        """Checks the options now, before anything runs (a bad --keep-output is a usage error)."""
        given: dict[str, JsonValue] = {
            "expressions": list(expressions or []),
            "cluster": cluster,
            "inventory": str(inventory.resolve()) if inventory else None,
            "rerun": store.rerun,
        }
        return cls(
            enabled=not store.no_store,
            state_dir=store.state_dir,
            keep_output=store.keep_output_bytes(),
            options=recorded_options(connection, fanout),
            targets_given=given,
        )

    @asynccontextmanager
    async def sinks(
        self,
        hosts: Sequence[Target],
        commands: Sequence[str],
        args: Sequence[JsonValue],
        kind: str = "run",
    ) -> AsyncIterator[list[Sink]]:
        """The recorder as a sink (none with --no-store); the run's end written on exit."""
        if not self.enabled:
            yield []
            return
        plan = RunPlan(
            commands=list(commands),
            hosts=[PlannedHost(t.name, t.address, t.port) for t in hosts],
            targets_given=self.targets_given,
            options=self.options,
            args=list(args),
            kind=kind,
            keep_output=self.keep_output,
        )
        recorder = await RunRecorder.start(state_dir(self.state_dir), plan, warn)
        try:
            yield [recorder]
        finally:
            await recorder.aclose()


async def run_targets(
    rerun: Rerun | None,
    expressions: list[str],
    cluster: str | None,
    inventory: Path | None,
    options: RunOptions,
) -> list[Target]:
    """The hosts a command runs on: a recorded run's selection with --rerun, else TARGETS."""
    if rerun is not None:
        return await rerun.targets(expressions, cluster, inventory, options)
    return await resolve_all_targets(expressions, cluster, inventory, options)

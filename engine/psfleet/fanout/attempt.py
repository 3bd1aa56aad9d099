"""One attempt at one host: connect, open a pool, run every command, close the pool.

The only place that knows whether a command may have run: a failure before the
pool's first Command is safe to retry, a failure after it is not (unless the
user says the commands are idempotent). A fault answer to Command proves the
command did not start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from psfleet import errors
from psfleet.client import ClientOptions
from psfleet.events import Event, RecordEvent, Stream
from psfleet.fanout.options import RunOptions
from psfleet.fanout.outcome import AttemptFailed, ScriptOutcome
from psfleet.session.pool import RunspacePool
from psfleet.session.records import PipelineState
from psfleet.targets.model import Target
from psfleet.transport.options import AuthMethod, Credential, Endpoint

Emit = Callable[[Event], Awaitable[None]]


class PoolSource(Protocol):
    """Where an attempt gets its host's pool (fanout.pools has the two kinds) and gives it back."""

    async def acquire(self, target: Target) -> RunspacePool: ...

    async def release(self, target: Target, pool: RunspacePool, *, broken: bool) -> None: ...


# One attempt's work on a host, instead of running the run's commands (file transfer):
# it gets its pool from the PoolSource and raises AttemptFailed as attempt_host does.
HostWork = Callable[[Target, Emit, "PoolSource"], Awaitable[ScriptOutcome]]


def endpoint_for(target: Target, options: RunOptions) -> Endpoint:
    tls = target.scheme == "https" if target.scheme is not None else options.tls
    if target.scheme is None and target.port == 5986:
        tls = True
    return Endpoint(target.name, address=target.address, port=target.port or options.port, tls=tls)


def client_options_for(target: Target, base: ClientOptions) -> ClientOptions:
    """Inventory variables (ansible_user, ansible_password, psfleet_auth) override the run's."""
    auth = base.auth
    if target.user is not None:
        password = target.password.reveal() if target.password is not None else None
        if password is None and auth.credential is not None:
            password = auth.credential.password
        auth = dataclasses.replace(auth, credential=Credential(target.user, password))
    if target.auth is not None:
        try:
            auth = dataclasses.replace(auth, method=AuthMethod(target.auth))
        except ValueError:
            raise errors.UsageError(
                f"unknown auth {target.auth!r} in the inventory", host=target.name
            ) from None
    return base if auth is base.auth else dataclasses.replace(base, auth=auth)


async def attempt_host(
    target: Target,
    commands: Sequence[str],
    args: Sequence[Any],
    options: RunOptions,
    emit: Emit,
    pools: PoolSource,
) -> ScriptOutcome:
    try:
        pool = await pools.acquire(target)
    except errors.PsfleetError as exc:
        raise AttemptFailed(exc, started=False) from exc
    broken = True
    try:
        outcome = await _run_commands(pool, target, commands, args, options, emit)
        broken = False
        return outcome
    finally:
        await pools.release(target, pool, broken=broken)


async def _run_commands(
    pool: RunspacePool,
    target: Target,
    commands: Sequence[str],
    args: Sequence[Any],
    options: RunOptions,
    emit: Emit,
) -> ScriptOutcome:
    outcome = ScriptOutcome()
    started = False
    for index, script in enumerate(commands):
        pipeline = pool.stream(script, *args)
        try:
            await pipeline.start()
        except errors.WSManFault as exc:
            raise AttemptFailed(exc, started=started) from exc
        except errors.PsfleetError as exc:
            raise AttemptFailed(exc, started=True) from exc
        started = True
        try:
            async for record in pipeline:
                if record.stream is Stream.ERROR:
                    outcome.add_error(record.data)
                await emit(dataclasses.replace(record, command_index=index))
        except errors.PsfleetError as exc:
            raise AttemptFailed(exc, started=True) from exc
        if pipeline.state is PipelineState.FAILED:
            outcome.terminating = pipeline.reason
            # Invoke-Command shows the terminating error on the error stream too.
            await emit(RecordEvent(target.name, Stream.ERROR, pipeline.reason, index))
            if options.stop_on_failed_pipeline:
                break
    return outcome

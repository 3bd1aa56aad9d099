"""The Python API of the fan-out; the CLI is a thin layer over it.

result = psfleet.run("node[01-64]", "Get-Service WinRM", auth="ntlm", credential=creds)
result = await psfleet.arun(targets, script, sinks=[...])
async with contextlib.aclosing(psfleet.stream(targets, script)) as events:
    async for event in events: ...
async with psfleet.Fleet(targets, auth="ntlm", credential=creds) as fleet:
    first = await fleet.invoke("Get-Service WinRM")
    second = await fleet.invoke("Get-Process")      # same open pools
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import anyio

from psfleet import eventloop
from psfleet.client import ClientOptions, client_options
from psfleet.errors import UsageError
from psfleet.events import Event
from psfleet.fanout.attempt import Emit, HostWork
from psfleet.fanout.executor import Executor, FanOut, LocalExecutor, Runner, with_run_broker
from psfleet.fanout.options import RunOptions
from psfleet.fanout.pools import KeptPools
from psfleet.fanout.result import FleetResult
from psfleet.fanout.scheduler import Scheduler
from psfleet.targets import resolve_targets
from psfleet.targets.model import Target
from psfleet.transport.blocking import off_loop

Targets = str | Target | Iterable[str | Target]

_RUN_FIELDS = {f.name for f in dataclasses.fields(RunOptions)} - {"client"}
_CLIENT_FIELDS = set(inspect.signature(client_options).parameters)
_STREAM_BUFFER = 256


class RunControl:
    """Lets the caller interrupt a run it started with arun() (the CLI's SIGINT)."""

    def __init__(self) -> None:
        self._runner: Runner | None = None
        self.interrupted = False

    def attach(self, runner: Runner) -> None:
        self._runner = runner
        if self.interrupted:
            runner.interrupt()

    def interrupt(self) -> None:
        self.interrupted = True
        if self._runner is not None:
            self._runner.interrupt()


class Sink(Protocol):
    """Receives every event of a run, in order; awaited, so a slow sink slows the run."""

    async def handle(self, event: Event) -> None: ...


def build_options(options: RunOptions | None, settings: dict[str, Any]) -> RunOptions:
    """RunOptions from an instance, or from keyword settings of RunOptions and client_options()."""
    if options is not None:
        if settings:
            raise UsageError("pass either options= or individual settings, not both")
        return options
    unknown = set(settings) - _RUN_FIELDS - _CLIENT_FIELDS
    if unknown:
        raise UsageError(f"unknown option(s): {', '.join(sorted(unknown))}")
    client: ClientOptions = client_options(
        **{k: v for k, v in settings.items() if k in _CLIENT_FIELDS}
    )
    return RunOptions(client=client, **{k: v for k, v in settings.items() if k in _RUN_FIELDS})


def to_targets(targets: Targets, inventory: Path | str | None, port: int | None) -> list[Target]:
    if isinstance(targets, str | Target):
        targets = [targets]
    given = list(targets)
    if all(isinstance(t, Target) for t in given):
        return [t for t in given if isinstance(t, Target)]
    expressions = [t if isinstance(t, str) else t.name for t in given]
    return resolve_targets(expressions, Path(inventory) if inventory else None, port)


async def resolve_off_loop(
    targets: Targets, inventory: Path | str | None, port: int | None
) -> list[Target]:
    """to_targets() in a daemon thread: an inventory is read from disk and parsed
    (5000 hosts of YAML take seconds on a busy machine), which must not stall the loop."""
    return await off_loop(lambda: to_targets(targets, inventory, port), name="psfleet-targets")


def _commands(script: str | Sequence[str]) -> list[str]:
    commands = [script] if isinstance(script, str) else list(script)
    if not commands or not all(c.strip() for c in commands):
        raise UsageError("no script to run")
    return commands


async def arun(
    targets: Targets,
    script: str | Sequence[str],
    *,
    args: Sequence[Any] = (),
    sinks: Sequence[Sink] = (),
    inventory: Path | str | None = None,
    options: RunOptions | None = None,
    control: RunControl | None = None,
    executor: Executor | None = None,
    **settings: Any,
) -> FleetResult:
    """Run the script(s) on every target; returns when every host has its final status.

    `executor`: where the hosts run (default: this process; psfleet.DaskExecutor: a cluster).
    """
    given_options = build_options(options, settings)
    hosts = await resolve_off_loop(targets, inventory, given_options.port)
    fanout = FanOut(hosts, _commands(script), list(args), given_options)
    runner = (executor or LocalExecutor()).runner(fanout, emit_to(sinks))
    if control is not None:
        control.attach(runner)
    return await runner.run()


def run(targets: Targets, script: str | Sequence[str], **kwargs: Any) -> FleetResult:
    """The synchronous form of arun()."""
    return eventloop.run(functools.partial(arun, targets, script, **kwargs))


async def stream(
    targets: Targets,
    script: str | Sequence[str],
    *,
    args: Sequence[Any] = (),
    inventory: Path | str | None = None,
    options: RunOptions | None = None,
    executor: Executor | None = None,
    **settings: Any,
) -> AsyncIterator[Event]:
    """Every event of the run as it happens. Close it (contextlib.aclosing) to stop early."""
    given_options = dataclasses.replace(build_options(options, settings), collect=False)
    hosts = await resolve_off_loop(targets, inventory, given_options.port)
    send, receive = anyio.create_memory_object_stream[Event](_STREAM_BUFFER)
    fanout = FanOut(hosts, _commands(script), list(args), given_options)
    runner = (executor or LocalExecutor()).runner(fanout, send.send)

    async def produce() -> None:
        async with send:
            await runner.run()

    async with anyio.create_task_group() as group, receive:
        group.start_soon(produce)
        try:
            async for event in receive:
                yield event
        finally:
            runner.interrupt()


def emit_to(sinks: Sequence[Sink]) -> Emit:
    """One emit that hands each event to every sink, in order."""

    async def emit(event: Event) -> None:
        for sink in sinks:
            await sink.handle(event)

    return emit


class Fleet:
    """Open pools on every target and keep them for repeated commands (New-PSSession)."""

    def __init__(
        self,
        targets: Targets,
        *,
        inventory: Path | str | None = None,
        sinks: Sequence[Sink] = (),
        options: RunOptions | None = None,
        **settings: Any,
    ) -> None:
        self.options, self._broker = with_run_broker(build_options(options, settings))
        self._given = (targets, inventory)
        self.targets: list[Target] = []  # resolved off the loop on entry or first invoke
        self._sinks = list(sinks)
        self._pools = KeptPools(self.options)

    async def __aenter__(self) -> Fleet:
        await self._resolve()
        return self

    async def _resolve(self) -> None:
        if not self.targets:
            self.targets = await resolve_off_loop(*self._given, self.options.port)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def open_hosts(self) -> list[str]:
        return list(self._pools.pools)

    async def invoke(
        self, script: str | Sequence[str], *, args: Sequence[Any] = (), sinks: Sequence[Sink] = ()
    ) -> FleetResult:
        """Run on every target, reusing the pools left open by the previous invoke."""
        await self._resolve()
        scheduler = Scheduler(
            self.targets,
            _commands(script),
            self.options,
            emit_to([*self._sinks, *sinks]),
            args=args,
            pools=self._pools,
        )
        return await scheduler.run()

    async def run_work(
        self, work: HostWork, *, sinks: Sequence[Sink] = (), emit: Emit | None = None
    ) -> FleetResult:
        """Run `work` on every target on the kept pools (psfleet.transfer's copy and fetch).

        `emit`, when given, receives every event instead of the sinks (it forwards them).
        """
        await self._resolve()
        scheduler = Scheduler(
            self.targets,
            [],
            self.options,
            emit or emit_to([*self._sinks, *sinks]),
            pools=self._pools,
            work=work,
        )
        return await scheduler.run()

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._pools.close_all()
        if self._broker is not None:
            self._broker.close()

"""copy and fetch on every target, through the fan-out's scheduler, limits and retries.

result = psfleet.copy("node[01-64]", "setup.msi", r"C:\\Windows\\Temp\\setup.msi", auth="ntlm",
                      credential=creds)
result = psfleet.fetch(targets, r"C:\\Logs\\app.log", "collected/")   # collected/<host>/app.log
async with psfleet.Fleet(targets, ...) as fleet:
    await fleet.copy("tool.zip", r"C:\\Tools\\tool.zip")
    await fleet.invoke(r"Expand-Archive C:\\Tools\\tool.zip C:\\Tools")

Each host's HostDone carries `bytes`, `sha256` and `changed`; a copy is idempotent (a host
whose file already has the same SHA-256 gets nothing, unless force=True), so a transfer
that failed on the way is retried like a connection that failed before any command.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import anyio

from psfleet import eventloop
from psfleet.errors import PsfleetError, UsageError
from psfleet.events import Event, HostDone, TransferProgress
from psfleet.fanout.api import (
    Fleet as _FanoutFleet,
)
from psfleet.fanout.api import (
    RunControl,
    Sink,
    Targets,
    build_options,
    emit_to,
    resolve_off_loop,
)
from psfleet.fanout.attempt import Emit, HostWork, PoolSource
from psfleet.fanout.executor import with_run_broker
from psfleet.fanout.options import RunOptions
from psfleet.fanout.outcome import AttemptFailed, ScriptOutcome
from psfleet.fanout.result import FleetResult
from psfleet.fanout.scheduler import Scheduler
from psfleet.session.pool import RunspacePool
from psfleet.targets.model import Target
from psfleet.transfer.chunks import LocalFile
from psfleet.transfer.envelope_size import EnvelopeSizes
from psfleet.transfer.errors import TransferError
from psfleet.transfer.pull import list_files, pull_file, remote_name
from psfleet.transfer.push import ChunkSources, Transferred, push_file

PROGRESS_EVERY_S = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class _Push:
    sources: ChunkSources
    dest: str  # remote path (or folder) as the user gave it


class _Transfers:
    """What the run's hosts moved, folded into their HostDone, and their progress events."""

    def __init__(self, emit: Emit, total: Callable[[str], int]) -> None:
        self._emit = emit
        self._total = total
        self.done: dict[str, list[Transferred]] = {}
        self._last_progress: dict[str, float] = {}

    async def emit(self, event: Event) -> None:
        if isinstance(event, HostDone) and event.host in self.done:
            moved = self.done[event.host]
            event = dataclasses.replace(
                event,
                bytes=sum(t.bytes for t in moved),
                sha256=moved[0].sha256 if len(moved) == 1 else None,
                changed=any(t.changed for t in moved),
            )
        await self._emit(event)

    def progress(self, host: str, before: int) -> Callable[[int], Awaitable[None]]:
        """A host's progress callback: bytes of this file done, `before` from earlier files."""

        async def report(done: int) -> None:
            now = time.monotonic()
            if now - self._last_progress.get(host, 0.0) >= PROGRESS_EVERY_S:
                self._last_progress[host] = now
                await self._emit(TransferProgress(host, before + done, self._total(host)))

        return report

    def record(self, host: str, moved: Transferred) -> None:
        self.done.setdefault(host, []).append(moved)

    def fill(self, result: FleetResult) -> FleetResult:
        for host, moved in self.done.items():
            entry = result.hosts.get(host)
            if entry is not None and entry.ok:
                entry.bytes = sum(t.bytes for t in moved)
                entry.sha256 = moved[0].sha256 if len(moved) == 1 else None
                entry.changed = any(t.changed for t in moved)
                entry.files = [t.path for t in moved]
        return result


def _host_work(
    do: Callable[[RunspacePool, Target], Awaitable[None]],
) -> HostWork:
    """An attempt: a pool from the source, `do` on it, every failure as AttemptFailed.

    Transfers are idempotent (temporary file, then a move once the hash matches), so a
    retryable failure may be retried even after scripts ran: `started` stays False.
    """

    async def work(target: Target, emit: Emit, pools: PoolSource) -> ScriptOutcome:
        try:
            pool = await pools.acquire(target)
        except PsfleetError as exc:
            raise AttemptFailed(exc, started=False) from exc
        broken = True
        try:
            await do(pool, target)
            broken = False
        except TransferError as exc:
            broken = False  # the host answered: its pool is fine
            raise AttemptFailed(exc, started=True) from exc
        except PsfleetError as exc:
            raise AttemptFailed(exc, started=False) from exc
        finally:
            await pools.release(target, pool, broken=broken)
        return ScriptOutcome()

    return work


# --- copy ---------------------------------------------------------------------------


def check_source(src: Path, recurse: bool) -> None:
    """UsageError unless SRC can be copied as asked (the CLI checks before its run starts)."""
    if not src.exists():
        raise UsageError(f"{src}: no such file or directory")
    if src.is_dir() and not recurse:
        raise UsageError(f"{src} is a directory: add --recurse to copy the tree")


def _local_files(src: Path, recurse: bool) -> list[tuple[Path, str]]:
    """(local file, its path relative to SRC with backslashes) for each file to push."""
    check_source(src, recurse)
    if src.is_dir():
        files = sorted(p for p in src.rglob("*") if p.is_file())
        return [(p, "\\".join(p.relative_to(src).parts)) for p in files]
    return [(src, "")]


async def _plan_copy(src: Path, dest: str, recurse: bool) -> list[_Push]:
    files = await anyio.to_thread.run_sync(_local_files, src, recurse)
    plan = []
    for path, relative in files:
        try:
            local = await LocalFile.measure(path)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
        remote = dest.rstrip("\\/") + "\\" + relative if relative else dest
        plan.append(_Push(ChunkSources(local), remote))
    return plan


def _copy_work(plan: list[_Push], transfers: _Transfers, *, force: bool, tree: bool) -> HostWork:
    sizes = EnvelopeSizes()

    async def do(pool: RunspacePool, target: Target) -> None:
        transfers.done.pop(target.name, None)  # a retried attempt starts over
        await sizes.apply(pool)  # each Send as large as this host allows
        before = 0
        for push in plan:
            moved = await push_file(
                pool,
                push.sources,
                push.dest,
                force=force,
                make_parents=tree,
                progress=transfers.progress(target.name, before),
            )
            before += push.sources.file.length
            transfers.record(target.name, moved)

    return _host_work(do)


async def _copy_run(
    src: Path | str,
    dest: str,
    *,
    force: bool,
    recurse: bool,
    run: Callable[[HostWork, Emit], Awaitable[FleetResult]],
    emit: Emit,
) -> FleetResult:
    plan = await _plan_copy(Path(src), dest, recurse)
    total = sum(p.sources.file.length for p in plan)
    transfers = _Transfers(emit, lambda host: total)
    tree = any(p.dest != dest for p in plan)  # a folder's files go below DEST
    work = _copy_work(plan, transfers, force=force, tree=tree)
    return transfers.fill(await run(work, transfers.emit))


# --- fetch --------------------------------------------------------------------------


def check_dest_dir(dest_dir: Path) -> None:
    """UsageError unless DEST_DIR exists (it is made) and can be written."""
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {dest_dir}: {exc.strerror}") from exc
    if not os.access(dest_dir, os.W_OK | os.X_OK):
        raise UsageError(f"{dest_dir} is not writable")


def _fetch_work(src: str, dest_dir: Path, transfers: _Transfers, *, recurse: bool) -> HostWork:
    async def do(pool: RunspacePool, target: Target) -> None:
        transfers.done.pop(target.name, None)
        host_dir = dest_dir / target.name
        if recurse:
            root = src.rstrip("\\/")
            remote_files = await list_files(pool, root)
            base = host_dir / remote_name(root)
            pairs = [
                (path, base.joinpath(*path[len(root) :].strip("\\").split("\\")))
                for path in remote_files
            ]
        else:
            pairs = [(src, host_dir / remote_name(src))]
        before = 0
        for remote, local in pairs:
            moved = await pull_file(pool, remote, local, transfers.progress(target.name, before))
            before += moved.bytes
            transfers.record(target.name, moved)

    return _host_work(do)


async def _fetch_run(
    src: str,
    dest_dir: Path | str,
    *,
    recurse: bool,
    run: Callable[[HostWork, Emit], Awaitable[FleetResult]],
    emit: Emit,
) -> FleetResult:
    if not src.strip():
        raise UsageError("no remote file to fetch")
    dest = Path(dest_dir)
    await anyio.to_thread.run_sync(check_dest_dir, dest)
    transfers = _Transfers(emit, lambda host: 0)  # the size is known once the host answers
    return transfers.fill(
        await run(_fetch_work(src, dest, transfers, recurse=recurse), transfers.emit)
    )


# --- the public forms ---------------------------------------------------------------


async def _one_shot(
    targets: Targets,
    inventory: Path | str | None,
    options: RunOptions | None,
    control: RunControl | None,
    settings: dict[str, Any],
    body: Callable[
        [Sequence[Target], Callable[[HostWork, Emit], Awaitable[FleetResult]]],
        Awaitable[FleetResult],
    ],
) -> FleetResult:
    given = build_options(options, settings)
    hosts = await resolve_off_loop(targets, inventory, given.port)
    run_options, broker = with_run_broker(given)

    async def run(work: HostWork, emit: Emit) -> FleetResult:
        scheduler = Scheduler(hosts, [], run_options, emit, work=work)
        if control is not None:
            control.attach(scheduler)
        return await scheduler.run()

    try:
        return await body(hosts, run)
    finally:
        if broker is not None:
            broker.close()


async def acopy(
    targets: Targets,
    src: Path | str,
    dest: str,
    *,
    force: bool = False,
    recurse: bool = False,
    sinks: Sequence[Sink] = (),
    inventory: Path | str | None = None,
    options: RunOptions | None = None,
    control: RunControl | None = None,
    **settings: Any,
) -> FleetResult:
    """Push local file (or, with recurse, folder) SRC to remote path DEST on every target."""
    emit = emit_to(sinks)
    return await _one_shot(
        targets,
        inventory,
        options,
        control,
        settings,
        lambda hosts, run: _copy_run(src, dest, force=force, recurse=recurse, run=run, emit=emit),
    )


def copy(targets: Targets, src: Path | str, dest: str, **kwargs: Any) -> FleetResult:
    """The synchronous form of acopy()."""
    return eventloop.run(functools.partial(acopy, targets, src, dest, **kwargs))


async def afetch(
    targets: Targets,
    src: str,
    dest_dir: Path | str,
    *,
    recurse: bool = False,
    sinks: Sequence[Sink] = (),
    inventory: Path | str | None = None,
    options: RunOptions | None = None,
    control: RunControl | None = None,
    **settings: Any,
) -> FleetResult:
    """Pull remote file (or, with recurse, folder) SRC from every target into DEST_DIR/<host>/."""
    emit = emit_to(sinks)
    return await _one_shot(
        targets,
        inventory,
        options,
        control,
        settings,
        lambda hosts, run: _fetch_run(src, dest_dir, recurse=recurse, run=run, emit=emit),
    )


def fetch(targets: Targets, src: str, dest_dir: Path | str, **kwargs: Any) -> FleetResult:
    """The synchronous form of afetch()."""
    return eventloop.run(functools.partial(afetch, targets, src, dest_dir, **kwargs))


class Fleet(_FanoutFleet):
    """psfleet.Fleet: pools kept open across commands, and copy/fetch on them."""

    async def copy(
        self,
        src: Path | str,
        dest: str,
        *,
        force: bool = False,
        recurse: bool = False,
        sinks: Sequence[Sink] = (),
    ) -> FleetResult:
        await self._resolve()
        emit = emit_to([*self._sinks, *sinks])
        return await _copy_run(src, dest, force=force, recurse=recurse, run=self._run, emit=emit)

    async def fetch(
        self, src: str, dest_dir: Path | str, *, recurse: bool = False, sinks: Sequence[Sink] = ()
    ) -> FleetResult:
        await self._resolve()
        emit = emit_to([*self._sinks, *sinks])
        return await _fetch_run(src, dest_dir, recurse=recurse, run=self._run, emit=emit)

    async def _run(self, work: HostWork, emit: Emit) -> FleetResult:
        return await self.run_work(work, emit=emit)

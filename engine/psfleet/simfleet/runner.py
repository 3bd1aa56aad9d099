"""Run a simulated fleet until SIGINT/SIGTERM, in one process or spread over worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from psfleet import eventloop
from psfleet.errors import UsageError
from psfleet.simfleet.certs import FleetCA
from psfleet.simfleet.config import SimConfig
from psfleet.simfleet.fleet import SimFleet, fleet_accounts
from psfleet.simfleet.inventory import write_inventory
from psfleet.simfleet.lockout import SharedLockout
from psfleet.simfleet.stats import WIDTH

_WORKER_START_TIMEOUT_S = 300.0
_PARENT_CHECK_S = 1.0


def raise_open_file_limit() -> int:
    """Lift the soft fd limit to the hard one: every host is a listening socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def _ready_line(
    fleet_hosts: list[Any], config: SimConfig, inventory: Path | None, workers: int, ca: Path | None
) -> str:
    first, last = fleet_hosts[0], fleet_hosts[-1]
    parts = [
        "ready",
        f"hosts={len(fleet_hosts)}",
        f"addresses={first.address}-{last.address}",
        f"port={first.port}",
        f"scheme={'https' if config.tls else 'http'}",
        f"workers={workers}",
    ]
    if config.cluster:
        parts.append(f"cluster={config.cluster}")
    if inventory is not None:
        parts.append(f"inventory={inventory}")
    if ca is not None:
        parts.append(f"ca={ca}")
    return " ".join(parts)


def serve(config: SimConfig, *, inventory: Path | None, workers: int) -> None:
    limit = raise_open_file_limit()
    if config.hosts + 64 > limit:
        raise UsageError(f"{config.hosts} hosts need more open files than the limit ({limit})")
    if workers > 1:
        _serve_workers(config, inventory, workers)
    else:
        eventloop.run_coroutine(_serve_one(config, inventory))


async def _serve_one(config: SimConfig, inventory: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with SimFleet(config) as fleet:
        if inventory is not None:
            fleet.write_inventory(inventory)
        print(_ready_line(fleet.hosts, config, inventory, 1, fleet.ca_file), flush=True)
        await stop.wait()
    print("stopped", flush=True)


def _worker(config: SimConfig, cells: Any, lockout: SharedLockout, only: range, ready: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    parent = os.getppid()

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with SimFleet(config, stats_cells=cells, shared_lockout=lockout, only=only) as fleet:
            ready.put([(h.name, h.address, h.port) for h in fleet.hosts])
            # A parent killed outright cannot stop its workers: they notice it is gone.
            while os.getppid() == parent and not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _PARENT_CHECK_S)

    raise_open_file_limit()
    try:
        eventloop.run_coroutine(main())
    except BaseException as exc:
        ready.put(f"worker failed: {type(exc).__name__}: {exc}")
        raise


def _serve_workers(config: SimConfig, inventory: Path | None, workers: int) -> None:
    if config.port == 0:
        raise UsageError("--workers needs a fixed --port (every worker must agree on it)")
    context = multiprocessing.get_context("spawn")
    owns_state_dir = config.state_dir is None
    state_dir = config.state_dir or Path(tempfile.mkdtemp(prefix="simfleet-"))
    config = replace(config, state_dir=state_dir)
    ca = FleetCA(state_dir / "tls").ca_file if config.tls else None  # one CA for all workers
    cells = context.RawArray("q", config.hosts * WIDTH)
    # One domain for all workers: a bad password on any host counts against the account.
    lockout = SharedLockout.create(context, fleet_accounts(config))
    ready = context.Queue()
    slices = [range(i, config.hosts, workers) for i in range(workers)]
    processes = [
        context.Process(target=_worker, args=(config, cells, lockout, part, ready), daemon=True)
        for part in slices
    ]
    for process in processes:
        process.start()
    stop_requested = False

    def request_stop(signum: int, frame: Any) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        hosts: list[Any] = []
        for _ in processes:
            answer = ready.get(timeout=_WORKER_START_TIMEOUT_S)
            if isinstance(answer, str):
                raise UsageError(answer)
            hosts = answer
        fleet_hosts = [_Row(*row) for row in hosts]
        if inventory is not None:
            write_inventory(inventory, fleet_hosts, cluster=config.cluster, tls=config.tls)
        print(_ready_line(fleet_hosts, config, inventory, workers, ca), flush=True)
        while not stop_requested and all(p.is_alive() for p in processes):
            time.sleep(0.5)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        if owns_state_dir:
            shutil.rmtree(state_dir, ignore_errors=True)
    print("stopped", flush=True)
    if not stop_requested:
        sys.exit(1)


class _Row:
    def __init__(self, name: str, address: str, port: int) -> None:
        self.name, self.address, self.port = name, address, port

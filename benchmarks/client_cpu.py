"""Client CPU per cold host and per warm command, against simfleet in its own process.

    .venv/bin/python -m benchmarks.client_cpu --auth ntlm --cold 200 --warm 1000 --rounds 5

Cold host: connect, authenticate, open a pool, run one small cmdlet, close (Delete).
Warm command: one more small cmdlet on an open pool. CPU is this process's
(time.process_time); the simulator's CPU is in the other process and not counted.
With two CPUs the client is pinned to the first and the simulator to the others, so
neither steals the other's core; each round is measured apart and the median reported
(the spread shows how noisy the machine was).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

from benchmarks.placement import Placement, pinned
from psfleet import eventloop
from psfleet.client import ClientOptions, client_options, open_lone_pool, open_pool, shared_broker
from psfleet.transport import Endpoint

SCRIPT = "Get-Date"
_SIM = """
import asyncio, sys
from psfleet.simfleet import SimConfig, SimFleet
async def main():
    async with SimFleet(SimConfig(hosts=1, base_address=sys.argv[1], port=int(sys.argv[2]),
                                  tls=sys.argv[3] == "tls")):
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


async def cold(endpoint: Endpoint, options: ClientOptions, count: int) -> float:
    with shared_broker(options) as run:  # cold hosts of one run share its broker
        started = time.process_time()
        for _ in range(count):
            pool = await open_pool(endpoint, run)
            try:
                await pool.invoke(SCRIPT)
            finally:
                await pool.aclose()
        return (time.process_time() - started) / count


async def warm(endpoint: Endpoint, options: ClientOptions, count: int) -> float:
    pool = await open_lone_pool(endpoint, options)
    try:
        await pool.invoke(SCRIPT)
        started = time.process_time()
        for _ in range(count):
            await pool.invoke(SCRIPT)
        return (time.process_time() - started) / count
    finally:
        await pool.aclose()


def _summary(milliseconds: list[float]) -> str:
    ms = sorted(milliseconds)
    return f"{statistics.median(ms):.2f} ms CPU (rounds {ms[0]:.2f}-{ms[-1]:.2f})"


def measure(
    rounds: int,
    *,
    loop: str = "auto",
    auth: str = "ntlm",
    tls: bool = False,
    cold_hosts: int = 200,
    warm_commands: int = 1000,
    address: str = "127.1.250.1",
    port: int = 25985,
) -> dict[str, list[float]]:
    """Client CPU in ms, one figure per round: {"cold": [...], "warm": [...]}."""
    os.environ[eventloop.ENV_VAR] = loop
    placement = Placement.choose(pin=True)
    sim = subprocess.Popen(
        pinned(
            [sys.executable, "-c", _SIM, address, str(port), "tls" if tls else ""],
            placement.server,
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None and sim.stdout.readline().strip() == "ready"
        options = client_options(
            auth=auth,
            credential=("LAB\\admin", "psfleet-demo"),
            delegate_to=["node01"],
            insecure_skip_tls_verify=tls,
        )
        endpoint = Endpoint("node01", address=address, port=port, tls=tls)
        if placement.client is not None:
            os.sched_setaffinity(0, placement.client)
        # Imports, first-use caches and key derivation are not per-host costs.
        eventloop.run_coroutine(cold(endpoint, options, 5))
        colds = [
            eventloop.run_coroutine(cold(endpoint, options, cold_hosts)) for _ in range(rounds)
        ]
        warms = [
            eventloop.run_coroutine(warm(endpoint, options, warm_commands)) for _ in range(rounds)
        ]
        return {"cold": [s * 1000 for s in colds], "warm": [s * 1000 for s in warms]}
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        sim.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--auth", default="ntlm")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--cold", type=int, default=200)
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--loop", choices=["auto", "uvloop", "asyncio"], default="auto", help="event loop"
    )
    parser.add_argument("--address", default="127.1.250.1")
    parser.add_argument("--port", type=int, default=25985)
    args = parser.parse_args()
    figures = measure(
        args.rounds,
        loop=args.loop,
        auth=args.auth,
        tls=args.tls,
        cold_hosts=args.cold,
        warm_commands=args.warm,
        address=args.address,
        port=args.port,
    )
    mode = f"{args.auth}{' over https' if args.tls else ' + encryption'}, {eventloop.loop_name()}"
    print(
        f"{mode}: cold host {_summary(figures['cold'])}; warm command {_summary(figures['warm'])}"
    )


if __name__ == "__main__":
    main()

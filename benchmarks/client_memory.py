"""Client memory per open pool: open one pool on each of N simulated hosts, hold them all.

    .venv/bin/python benchmarks/client_memory.py --hosts 500

The simulator runs in its own process; RSS is this process's, before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys

import psutil

from psfleet.client import ClientOptions, client_options, open_pool, shared_broker
from psfleet.session import RunspacePool
from psfleet.transport import Endpoint

_SIM = """
import asyncio, json, sys
from psfleet.simfleet import SimConfig, SimFleet
async def main():
    config = SimConfig(hosts=int(sys.argv[1]), base_address="127.10.0.1", port=int(sys.argv[2]))
    async with SimFleet(config) as fleet:
        print(json.dumps([[h.name, h.address, h.port] for h in fleet.hosts]), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
asyncio.run(main())
"""


async def hold_pools(hosts: list[list[object]]) -> None:
    given = client_options(auth="ntlm", credential=("LAB\\admin", "psfleet-demo"))
    with shared_broker(given) as options:  # the hosts of one run share its broker
        await _hold(hosts, options)


async def _hold(hosts: list[list[object]], options: ClientOptions) -> None:
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    pools: list[RunspacePool] = []
    for name, address, port in hosts:
        endpoint = Endpoint(str(name), address=str(address), port=int(str(port)))
        pool = await open_pool(endpoint, options)
        await pool.invoke("$env:COMPUTERNAME")
        pools.append(pool)
    gc.collect()
    after = process.memory_info().rss
    per_pool = (after - before) / len(pools)
    print(f"{len(pools)} open pools: {per_pool / 1024:.1f} KiB RSS each")
    print(f"-> 5000 hosts: {per_pool * 5000 / 2**20:.0f} MiB on top of {before / 2**20:.0f} MiB")
    for pool in pools:
        await pool.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--port", type=int, default=25999)
    args = parser.parse_args()
    sim = subprocess.Popen(
        [sys.executable, "-c", _SIM, str(args.hosts), str(args.port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        hosts = json.loads(sim.stdout.readline())
        asyncio.run(hold_pools(hosts))
    finally:
        if sim.stdin is not None:
            sim.stdin.close()
        sim.wait(60)


if __name__ == "__main__":
    main()

"""Where a host's runspace pool comes from: opened per run, or kept open across commands (Fleet).

Both kinds implement attempt.PoolSource: this module depends on the attempt, never the reverse.
"""

from __future__ import annotations

import contextlib

import anyio

from psfleet.client import open_pool
from psfleet.errors import PsfleetError
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.fanout.options import RunOptions
from psfleet.fanout.ratelimit import ConnectRate
from psfleet.session.pool import RunspacePool
from psfleet.targets.model import Target


class FreshPools:
    """One pool per attempt, closed when the attempt ends (psfleet run)."""

    def __init__(self, options: RunOptions) -> None:
        self._options = options
        self._rate = ConnectRate(options.connect_rate)

    async def acquire(self, target: Target) -> RunspacePool:
        await self._rate.wait()
        return await open_pool(
            endpoint_for(target, self._options), client_options_for(target, self._options.client)
        )

    async def release(self, target: Target, pool: RunspacePool, *, broken: bool) -> None:
        await pool.aclose()


class KeptPools(FreshPools):
    """Pools stay open between commands (the New-PSSession analogue); a broken one is replaced."""

    def __init__(self, options: RunOptions) -> None:
        super().__init__(options)
        self.pools: dict[str, RunspacePool] = {}

    async def acquire(self, target: Target) -> RunspacePool:
        pool = self.pools.get(target.name)
        if pool is None:
            pool = await super().acquire(target)
            self.pools[target.name] = pool
        return pool

    async def release(self, target: Target, pool: RunspacePool, *, broken: bool) -> None:
        if broken:
            self.pools.pop(target.name, None)
            await pool.aclose()

    async def close_all(self) -> None:
        """Delete every pool, `throttle` at a time: one by one, 5000 pools took minutes."""
        pools, self.pools = list(self.pools.values()), {}
        slots = anyio.CapacityLimiter(self._options.throttle)

        async def close(pool: RunspacePool) -> None:
            async with slots:
                with contextlib.suppress(PsfleetError):
                    await pool.aclose()

        async with anyio.create_task_group() as group:
            for pool in pools:
                group.start_soon(close, pool)

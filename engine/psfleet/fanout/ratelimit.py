"""A token bucket for new connections per second, shared by every host task of a run."""

from __future__ import annotations

import anyio


class ConnectRate:
    def __init__(self, per_second: float | None) -> None:
        self._interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = anyio.Lock()

    async def wait(self) -> None:
        """Return when the next connection may be opened."""
        if not self._interval:
            return
        async with self._lock:
            now = anyio.current_time()
            delay = self._next - now
            self._next = max(now, self._next) + self._interval
        if delay > 0:
            await anyio.sleep(delay)

"""Run a blocking call (krb5, GSSAPI) off the event loop, and stop waiting at a deadline."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio

from psfleet.transport.blocking import off_loop

T = TypeVar("T")


async def call_blocking(work: Callable[[], T], within: float, *, name: str) -> T | None:
    """`work()` in a daemon thread; None when it has not returned within `within` seconds.

    An exception from `work` is raised here. A call still running at the deadline is left
    to finish on its own: `work` must clean up after itself.
    """
    with anyio.move_on_after(within):
        return await off_loop(work, name=name)
    return None

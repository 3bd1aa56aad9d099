"""Run a blocking call (krb5, GSSAPI) in a daemon thread, and stop waiting at a deadline.

Not anyio.to_thread: an abandoned call there keeps a non-daemon worker thread, and the
interpreter waits for it at exit: a KDC that never answers would hold `psfleet doctor`
open for MIT's whole retry schedule (18 s here) after the report is printed.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

T = TypeVar("T")


async def call_blocking(work: Callable[[], T], within: float, *, name: str) -> T | None:
    """`work()` off the event loop; None when it has not returned within `within` seconds.

    An exception from `work` is raised here. A call still running at the deadline is left
    to finish on its own: `work` must clean up after itself.
    """
    done = anyio.Event()
    results: list[T] = []
    errors: list[Exception] = []
    token = anyio.lowlevel.current_token()

    def run() -> None:
        try:
            results.append(work())
        except Exception as exc:  # handed to the waiting task
            errors.append(exc)
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits
            anyio.from_thread.run_sync(done.set, token=token)

    threading.Thread(target=run, name=name, daemon=True).start()
    with anyio.move_on_after(within):
        await done.wait()
    if errors:
        raise errors[0]
    return results[0] if results else None

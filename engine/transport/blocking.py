"""Run a blocking library call (krb5, GSSAPI) in a daemon thread that a deadline can abandon.

Not anyio.to_thread: an abandoned call there keeps a non-daemon worker thread, and the
interpreter waits for it at exit, so a KDC that never answers would hold `psfleet run`
open for MIT's whole retry schedule (18 s here) after the run ended or Ctrl-C.
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


async def off_loop(
    work: Callable[[], T], *, name: str, limiter: anyio.CapacityLimiter | None = None
) -> T:
    """`work()` in a daemon thread; cancelling the caller abandons it (it finishes alone).

    `limiter` bounds the threads at once: a slot is held until the thread really ends,
    so calls stuck on a silent KDC cannot pile up without bound.
    """
    borrower = object()
    if limiter is not None:
        await limiter.acquire_on_behalf_of(borrower)
    done = anyio.Event()
    outcome: list[T] = []
    failure: list[BaseException] = []
    token = anyio.lowlevel.current_token()

    def finish() -> None:
        if limiter is not None:
            limiter.release_on_behalf_of(borrower)
        done.set()

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the waiting task
            failure.append(exc)
        with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits
            anyio.from_thread.run_sync(finish, token=token)

    try:
        threading.Thread(target=run, name=name, daemon=True).start()
    except BaseException:
        if limiter is not None:
            limiter.release_on_behalf_of(borrower)
        raise
    await done.wait()
    if failure:
        raise failure[0]
    return outcome[0]

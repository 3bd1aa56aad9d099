"""Run a blocking library call (krb5, GSSAPI) in a daemon thread that a deadline can abandon.

Not anyio.to_thread: an abandoned call there keeps a non-daemon worker thread, and the
interpreter waits for it at exit, so a KDC that never answers would hold `psfleet run`
open for MIT's whole retry schedule (18 s here) after the run ended or Ctrl-C.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

T = TypeVar("T")


class DaemonCall(Generic[T]):
    """`work()` started now in a daemon thread; any number of tasks may `wait()` for it.

    The call belongs to no task: cancelling a waiter abandons the wait, not the call.
    `finished` runs on the event loop when it ends, and `orphaned` in the thread with
    its result when the loop is gone (to release what nobody will collect).
    """

    def __init__(
        self,
        work: Callable[[], T],
        *,
        name: str,
        finished: Callable[[], None] | None = None,
        orphaned: Callable[[T], None] | None = None,
    ) -> None:
        self._done = anyio.Event()
        self._outcome: list[T] = []
        self._failure: list[BaseException] = []
        token = anyio.lowlevel.current_token()

        def finish() -> None:
            if finished is not None:
                finished()
            self._done.set()

        def run() -> None:
            try:
                self._outcome.append(work())
            except BaseException as exc:  # handed to the waiting tasks
                self._failure.append(exc)
            try:
                anyio.from_thread.run_sync(finish, token=token)
            except RuntimeError:  # the event loop is gone: nobody waits
                if orphaned is not None and self._outcome:
                    orphaned(self._outcome[0])

        threading.Thread(target=run, name=name, daemon=True).start()

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def result_if_ready(self) -> T | None:
        """The result, if the call has returned one (even before waiters are woken)."""
        return self._outcome[0] if self._outcome else None

    async def join(self) -> None:
        """Wait until the call has ended (a waiter's own deadline may cut this short)."""
        await self._done.wait()

    def result(self) -> T:
        """The ended call's result, or its exception raised."""
        if self._failure:
            raise self._failure[0]
        return self._outcome[0]

    async def wait(self) -> T:
        await self.join()
        return self.result()


async def off_loop(
    work: Callable[[], T], *, name: str, limiter: anyio.CapacityLimiter | None = None
) -> T:
    """`work()` in a daemon thread; cancelling the caller abandons it (it finishes alone).

    `limiter` bounds the threads at once: a slot is held until the thread really ends,
    so calls stuck on a silent KDC cannot pile up without bound.
    """
    if limiter is None:
        return await DaemonCall(work, name=name).wait()
    borrower = object()
    await limiter.acquire_on_behalf_of(borrower)
    try:
        call = DaemonCall(work, name=name, finished=lambda: limiter.release_on_behalf_of(borrower))
    except BaseException:
        limiter.release_on_behalf_of(borrower)
        raise
    return await call.wait()

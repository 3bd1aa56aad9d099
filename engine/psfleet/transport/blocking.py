"""Run a blocking library call (krb5, GSSAPI) in a daemon thread that a deadline can abandon.

Not anyio.to_thread: an abandoned call there keeps a non-daemon worker thread, and the
interpreter waits for it at exit, so a KDC that never answers would hold `psfleet run`
open for MIT's whole retry schedule (18 s here) after the run ended or Ctrl-C.

The daemon threads are reused (`WorkerPool`): starting one costs about 0.1 ms of CPU, and
a Kerberos host takes three steps. A thread whose call is stuck (a silent KDC) is simply
not idle: it is never handed new work while stuck, and a new thread takes its place.
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel

from psfleet.logs import get_logger

log = get_logger("psfleet.transport")
T = TypeVar("T")

_Job = tuple[Callable[[], None], Callable[[], None], str]
_IDLE_TIMEOUT_S = 30.0  # an idle thread of a pool nobody closed ends after this
_SHARED_IDLE = 2  # idle threads kept by the pool of calls without a limiter


class WorkerPool:
    """Reusable daemon threads; with a `size`, at most that many calls run at once.

    The limiter's slot is held until the call really ends, and a thread counts itself
    idle before its slot is given back, so the pool never holds more threads than
    `size`. Idle threads wait `idle_timeout` for work, then end; `close()` ends them now.
    """

    def __init__(self, size: int | None = None, *, idle_timeout: float = _IDLE_TIMEOUT_S) -> None:
        self.limiter = anyio.CapacityLimiter(size) if size is not None else None
        self._max_idle = size if size is not None else _SHARED_IDLE
        self._idle_timeout = idle_timeout
        self._reset()
        _POOLS.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._idle = 0  # threads that will take the next queued job
        self._closed = False

    def __repr__(self) -> str:
        return f"WorkerPool(idle={self._idle}, closed={self._closed})"

    def submit(self, work: Callable[[], None], then: Callable[[], None], name: str) -> None:
        """`work()` then `then()` in an idle thread of the pool, or in a new one."""
        job = (work, then, name)
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        threading.Thread(target=self._serve, args=(job,), name=name, daemon=True).start()

    def close(self) -> None:
        """End the idle threads; a call still running ends its thread when it returns."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
        for _ in range(idle):
            self._jobs.put(None)

    def _serve(self, job: _Job | None) -> None:
        while job is not None:
            work, then, name = job
            threading.current_thread().name = name
            work()
            with self._lock:
                keep = not self._closed and self._idle < self._max_idle
                if keep:
                    self._idle += 1  # before `then` gives the limiter's slot back
            try:
                then()
            except Exception:  # a job may be queued for this thread already: keep serving
                log.exception("a worker thread's report failed", thread=name)
            job = self._next() if keep else None

    def _next(self) -> _Job | None:
        try:
            return self._jobs.get(timeout=self._idle_timeout)
        except queue.Empty:
            with self._lock:
                try:  # a job handed to this thread as the wait timed out
                    return self._jobs.get_nowait()
                except queue.Empty:
                    self._idle -= 1
                    return None


_POOLS: weakref.WeakSet[WorkerPool] = weakref.WeakSet()
_SHARED = WorkerPool()


def _forget_threads_after_fork() -> None:
    # A forked child has none of its parent's threads: nobody would take a queued job.
    for pool in list(_POOLS):
        pool._reset()


os.register_at_fork(after_in_child=_forget_threads_after_fork)


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
        pool: WorkerPool | None = None,
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

        def report() -> None:
            try:
                anyio.from_thread.run_sync(finish, token=token)
            except RuntimeError:  # the event loop is gone: nobody waits
                if orphaned is not None and self._outcome:
                    orphaned(self._outcome[0])

        (pool or _SHARED).submit(run, report, name)

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


async def off_loop(work: Callable[[], T], *, name: str, pool: WorkerPool | None = None) -> T:
    """`work()` in a daemon thread; cancelling the caller abandons it (it finishes alone).

    A `pool` with a size bounds the threads at once: a slot is held until the thread
    really ends, so calls stuck on a silent KDC cannot pile up without bound.
    """
    limiter = pool.limiter if pool is not None else None
    if limiter is None:
        return await DaemonCall(work, name=name, pool=pool).wait()
    borrower = object()
    await limiter.acquire_on_behalf_of(borrower)
    try:
        call = DaemonCall(
            work, name=name, finished=lambda: limiter.release_on_behalf_of(borrower), pool=pool
        )
    except BaseException:
        limiter.release_on_behalf_of(borrower)
        raise
    return await call.wait()

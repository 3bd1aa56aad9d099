"""off_loop's daemon threads: reused when idle, never while stuck, never holding the exit."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
import threading
import time

import anyio
import anyio.from_thread
import anyio.lowlevel
import pytest

from psfleet.transport.blocking import DaemonCall, WorkerPool, off_loop

pytestmark = pytest.mark.anyio


def _thread() -> threading.Thread:
    return threading.current_thread()


async def test_an_idle_thread_takes_the_next_call() -> None:
    pool = WorkerPool(2)
    try:
        first = await off_loop(_thread, name="t-first", pool=pool)
        second = await off_loop(_thread, name="t-second", pool=pool)
        assert second is first
        assert first.daemon
        assert first.name == "t-second"  # named for the call it runs
    finally:
        pool.close()


async def test_a_failed_call_raises_and_its_thread_serves_again() -> None:
    pool = WorkerPool(1)

    def fail() -> None:
        raise ValueError("boom")

    try:
        with pytest.raises(ValueError, match="boom"):
            await off_loop(fail, name="t-fail", pool=pool)
        first = await off_loop(_thread, name="t", pool=pool)
        assert await off_loop(_thread, name="t", pool=pool) is first
    finally:
        pool.close()


async def test_the_pool_never_holds_more_threads_than_its_size() -> None:
    pool = WorkerPool(3)
    seen: set[threading.Thread] = set()
    running = 0
    most = 0
    lock = threading.Lock()

    def work() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            seen.add(threading.current_thread())
        time.sleep(0.002)
        with lock:
            running -= 1

    async def calls() -> None:
        for _ in range(10):
            await off_loop(work, name="t-bound", pool=pool)

    try:
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(calls)
        assert most == 3
        assert len(seen) == 3  # 80 calls, 3 threads: none started while one was idle
    finally:
        pool.close()


async def test_a_stuck_call_is_abandoned_and_its_thread_is_not_reused_while_stuck() -> None:
    pool = WorkerPool(2)
    release = threading.Event()
    stuck: list[threading.Thread] = []

    def silent_kdc() -> str:
        stuck.append(threading.current_thread())
        release.wait(30)
        return "late answer"

    try:
        with anyio.move_on_after(0.2) as scope:
            await off_loop(silent_kdc, name="t-stuck", pool=pool)
        assert scope.cancelled_caught
        # The waiter gave up; the call goes on, in a thread no other call is handed.
        assert stuck[0].is_alive()
        others = {await off_loop(_thread, name="t-other", pool=pool) for _ in range(5)}
        assert stuck[0] not in others
        assert len(others) == 1
        # Its slot is held until it really ends: with the second one taken, no third call.
        assert pool.limiter is not None and pool.limiter.borrowed_tokens == 1
        third_ran = False

        async def third() -> None:
            nonlocal third_ran
            await off_loop(_thread, name="t-third", pool=pool)
            third_ran = True

        held = anyio.Event()
        token = anyio.lowlevel.current_token()

        def hold() -> None:
            anyio.from_thread.run_sync(held.set, token=token)  # it runs: it has the slot
            release.wait(30)

        async with anyio.create_task_group() as group:
            group.start_soon(functools.partial(off_loop, hold, name="t-hold", pool=pool))
            await held.wait()
            with anyio.move_on_after(0.2):
                await third()
            assert not third_ran
            release.set()
        # No longer stuck: it serves again (the pool still holds at most 2 threads).
        served = {await off_loop(_thread, name="t-after", pool=pool) for _ in range(5)}
        assert served <= {stuck[0], *others}
    finally:
        release.set()
        pool.close()


async def test_close_and_the_idle_timeout_end_idle_threads() -> None:
    pool = WorkerPool(2)
    closed = await off_loop(_thread, name="t-close", pool=pool)
    pool.close()
    closed.join(5)
    assert not closed.is_alive()

    quick = WorkerPool(2, idle_timeout=0.05)
    idle = await off_loop(_thread, name="t-idle", pool=quick)
    idle.join(5)
    assert not idle.is_alive()
    # A call after the timeout gets a new thread.
    assert await off_loop(_thread, name="t-idle", pool=quick) is not idle
    quick.close()


async def test_a_call_shared_by_waiters_runs_once() -> None:
    runs: list[int] = []
    call = DaemonCall(lambda: runs.append(1) or len(runs), name="t-shared")
    results = []
    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(lambda: _collect(call, results))
    assert results == [1, 1, 1]
    assert runs == [1]


async def _collect(call: DaemonCall[int], results: list[int]) -> None:
    results.append(await call.wait())


_EXIT_SCRIPT = textwrap.dedent(
    """
    import threading, anyio
    from psfleet.transport.blocking import WorkerPool, off_loop

    async def main():
        pool = WorkerPool(2)  # never closed
        await off_loop(lambda: None, name="idle", pool=pool)  # leaves an idle thread
        with anyio.move_on_after(0.1):
            await off_loop(threading.Event().wait, name="stuck", pool=pool)  # never returns
        await off_loop(lambda: None, name="shared-idle")
        names = sorted(t.name for t in threading.enumerate() if t.daemon)
        print(names, flush=True)

    anyio.run(main)
    """
)


def test_no_pool_thread_holds_the_interpreter_open_at_exit() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    # A stuck thread and idle ones were alive when main() returned ...
    assert "stuck" in done.stdout and "idle" in done.stdout
    # ... and the process did not wait for them (an idle one waits 30 s, the stuck one forever).
    assert elapsed < 20

"""The event loop psfleet runs on: uvloop where it is installed, asyncio's own otherwise.

A fan-out on a small machine is bound by the client's CPU per request, and uvloop
cuts aiohttp's share of it by about a quarter (benchmarks/client_cpu.py --loop). The
environment variable PSFLEET_EVENT_LOOP=asyncio forces the standard loop (asyncio's
debug mode, or a platform where uvloop misbehaves); =uvloop insists on uvloop.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio

from psfleet.errors import UsageError

T = TypeVar("T")
ENV_VAR = "PSFLEET_EVENT_LOOP"
_CHOICES = ("auto", "uvloop", "asyncio")


def _uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401, PLC0415 (optional: absent on Windows)
    except ImportError:
        return False
    return True


def loop_name() -> str:
    """'uvloop' or 'asyncio': the loop `run` and `run_coroutine` start."""
    wanted = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if wanted not in _CHOICES:
        raise UsageError(f"{ENV_VAR}={wanted!r}: expected one of {', '.join(_CHOICES)}")
    if wanted == "asyncio":
        return "asyncio"
    if _uvloop_available():
        return "uvloop"
    if wanted == "uvloop":
        raise UsageError(f"{ENV_VAR}=uvloop but uvloop is not installed")
    return "asyncio"


def anyio_backend() -> tuple[str, dict[str, Any]]:
    """(backend, backend_options) for anyio.run and for pytest's anyio_backend fixture."""
    return "asyncio", {"use_uvloop": loop_name() == "uvloop"}


def run(func: Callable[..., Awaitable[T]], *args: Any) -> T:
    """anyio.run on the chosen loop."""
    backend, options = anyio_backend()
    return anyio.run(func, *args, backend=backend, backend_options=options)


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on the chosen loop (for code that is asyncio-only, like the simulator)."""
    if loop_name() == "uvloop":
        import uvloop  # noqa: PLC0415

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


def freeze_startup_heap() -> None:
    """Keep what start-up made (modules, classes, constants: most of a fresh process's
    objects) out of every later garbage collection.

    A full collection walks every object, and it stops the event loop whichever thread
    runs it; the start-up heap is most of what it would walk in a fan-out. For
    applications (the CLI, the benchmarks' client), not a library's call: a frozen object
    is never collected, even once unreachable.
    """
    gc.freeze()

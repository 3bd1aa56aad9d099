"""`psfleet sim` as a subprocess, as a user runs it: start, wait for `ready`, stop on exit."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

_STOP_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class SimProcess:
    process: subprocess.Popen[str]
    ready: str  # the `ready key=value ...` line

    @property
    def fields(self) -> dict[str, str]:
        return dict(part.split("=", 1) for part in self.ready.split()[1:] if "=" in part)


@contextmanager
def sim_process(*args: str, env: Mapping[str, str] | None = None) -> Iterator[SimProcess]:
    """`psfleet sim ARGS` running until the block ends (SIGTERM, then wait).

    `env` replaces the environment (e.g. a KDC's KRB5_* settings); the default inherits it.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "sim", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=None if env is None else dict(env),
    )
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().strip()
        if not ready.startswith("ready"):
            raise RuntimeError(f"psfleet sim did not start: {ready!r}")
        yield SimProcess(process, ready)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

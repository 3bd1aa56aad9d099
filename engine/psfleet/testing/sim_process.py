"""`psfleet sim` as a subprocess, as a user runs it: start, wait for `ready`, stop on exit.

Also runs other `psfleet` commands the same way, with the demo password in the
environment, for tests and the demo.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psfleet.simfleet.accounts import DEFAULT_PASSWORD

_STOP_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class SimProcess:
    process: subprocess.Popen[str]
    ready: str  # the `ready key=value ...` line

    @property
    def fields(self) -> dict[str, str]:
        return dict(part.split("=", 1) for part in self.ready.split()[1:] if "=" in part)


@contextmanager
def sim_process(*args: str) -> Iterator[SimProcess]:
    """`psfleet sim ARGS` running until the block ends (SIGTERM, then wait)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "sim", *args], stdout=subprocess.PIPE, text=True
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


def run_psfleet(
    *args: str, password: str = DEFAULT_PASSWORD, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """`python -m psfleet ARGS` with PSFLEET_PASSWORD set, its output captured."""
    env = {**os.environ, "PSFLEET_PASSWORD": password}
    return subprocess.run(
        [sys.executable, "-m", "psfleet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        **kwargs,
    )

"""Run `psfleet` commands as a user does, with the demo password in the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from psfleet.simfleet.accounts import DEFAULT_PASSWORD


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

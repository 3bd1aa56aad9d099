"""`psfleet` commands as a user runs them: subprocesses against a `psfleet sim` subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.ports import free_port

PASSWORD = "psfleet-demo"


@dataclass
class Lab:
    inventory: Path
    first_address: str
    port: int
    password: str = PASSWORD

    def stats(self) -> dict[str, Any]:
        url = f"http://{self.first_address}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result


def _psfleet(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PSFLEET_PASSWORD": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "psfleet", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    inventory = tmp_path_factory.mktemp("lab") / "inventory.yml"
    port = free_port("127.5.1.1")
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "psfleet",
            "sim",
            "--hosts",
            "24",
            "--cluster",
            "CLUSTER01",
            "--base-address",
            "127.5.1.1",
            "--port",
            str(port),
            "--inventory",
            str(inventory),
            "--faults",
            "refuse:node24",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sim.stdout is not None
    ready = sim.stdout.readline()
    assert ready.startswith("ready"), ready
    try:
        yield Lab(inventory, "127.5.1.1", port)
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m psfleet ARGS` with the lab's password in PSFLEET_PASSWORD."""
    return _psfleet

"""`psfleet` commands as a user runs them: subprocesses against a `psfleet sim` subprocess."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

PASSWORD = "psfleet-demo"
FIRST_ADDRESS = "127.5.1.1"


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """24 cluster nodes; node24 refuses connections."""
    inventory = tmp_path_factory.mktemp("lab") / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", "24", "--cluster", "CLUSTER01", "--base-address", FIRST_ADDRESS,
        "--port", str(port), "--inventory", str(inventory), "--faults", "refuse:node24",
    ):  # fmt: skip
        yield Lab(inventory, FIRST_ADDRESS, port)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m psfleet ARGS` with the lab's password in PSFLEET_PASSWORD."""
    return run_psfleet

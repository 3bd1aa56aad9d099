"""`--executor dask -u USER` never asks for a password: the workers read their own.

The client runs with a terminal on stdin (a pty, so a prompt would be shown and wait) and
no PSFLEET_PASSWORD; the cluster's workers have theirs. A LocalCluster (scheduler and two
worker processes) on 127.40.3.1 and a `psfleet sim` subprocess on 127.40.3.10.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.dask_cluster import two_worker_cluster
from tests.support.ports import free_port

distributed = pytest.importorskip("distributed")

CLUSTER_ADDRESS = "127.40.3.1"
FLEET_ADDRESS = "127.40.3.10"
PROMPT = "Password for"


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    cluster = two_worker_cluster(CLUSTER_ADDRESS)
    with cluster:
        yield str(cluster.scheduler_address)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("daskpw") / "inventory.yml"
    port = free_port(FLEET_ADDRESS)
    with sim_process(
        "--hosts", "4", "--base-address", FLEET_ADDRESS, "--port", str(port),
        "--inventory", str(path),
    ):  # fmt: skip
        yield path


def psfleet_at_a_terminal(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m psfleet ARGS` with a pty on stdin and no password in its environment.

    A prompt would be written and then wait for a line that never comes: the timeout.
    """
    env = {k: v for k, v in os.environ.items() if k != "PSFLEET_PASSWORD"}
    terminal, stdin = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "psfleet", *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
            start_new_session=True,
        )
        os.set_blocking(terminal, False)
        try:
            echoed = os.read(terminal, 65536).decode(errors="replace")
        except BlockingIOError:
            echoed = ""
    finally:
        os.close(stdin)
        os.close(terminal)
    assert PROMPT not in echoed
    return done


def _hosts(inventory: Path, *extra: str) -> list[str]:
    return ["node[01-04]", "--inventory", str(inventory), "-u", "LAB\\admin", *extra]


def test_run_takes_the_password_of_the_workers_without_a_prompt(
    scheduler: str, inventory: Path
) -> None:
    done = psfleet_at_a_terminal(
        "run", *_hosts(inventory), "-c", "$env:COMPUTERNAME", "--retries", "0",
        "--executor", "dask", "--scheduler", scheduler, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PROMPT not in done.stderr
    finals = [e for e in map(json.loads, done.stdout.splitlines()) if e["event"] == "host_done"]
    assert [e["status"] for e in finals] == ["ok"] * 4


def test_a_password_file_is_a_path_on_the_workers_never_read_here(
    scheduler: str, inventory: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "on-the-workers-only"
    done = psfleet_at_a_terminal(
        "run", *_hosts(inventory, "--password-file", str(missing)), "-c", "1",
        "--executor", "dask", "--scheduler", scheduler, "--json",
    )  # fmt: skip
    # Each worker is asked before any host runs: a usage error naming the worker and the file.
    assert done.returncode == 2, done.stderr
    assert f"cannot read the password file {missing}" in done.stderr
    assert "worker tcp://" in done.stderr and "Traceback" not in done.stderr
    assert '"host_done"' not in done.stdout
    assert PROMPT not in done.stderr


def test_bench_says_what_it_needs_here_before_any_prompt(scheduler: str, inventory: Path) -> None:
    done = psfleet_at_a_terminal(
        "bench", *_hosts(inventory), "--unloaded", "1",
        "--executor", "dask", "--scheduler", scheduler,
    )  # fmt: skip
    assert done.returncode == 2
    message: Any = done.stderr
    assert "--executor dask never asks for a password" in message
    assert "--unloaded 1 probes hosts from this machine" in message
    assert "PSFLEET_PASSWORD" in message and "--password-file" in message


def test_bench_probes_on_the_workers_alone_without_a_password_here(
    scheduler: str, inventory: Path
) -> None:
    done = psfleet_at_a_terminal(
        "bench", *_hosts(inventory), "--unloaded", "0", "--commands", "1",
        "--executor", "dask", "--scheduler", scheduler, "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] == 4

"""`psfleet run --executor local-cluster --log-json FILE`: the workers' log events reach FILE.

The default auth (negotiate) finds no KDC for the LAB realm on this machine and uses NTLM:
the worker that finds out logs it, and the client's --log-json must hold that event with the
worker's address, never the password. A `psfleet sim` subprocess on 127.40.1.x.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

pytest.importorskip("distributed")

FIRST_ADDRESS = "127.40.1.1"
HOSTS = 8
NTLM_FALLBACK = "kerberos unavailable: negotiate uses NTLM for this run"


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("dasklogs") / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(path),
    ):  # fmt: skip
        yield path


def _log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_worker_s_log_event_reaches_the_client_s_log_json_with_its_worker(
    inventory: Path, tmp_path: Path
) -> None:
    log_file = tmp_path / "run.log.jsonl"
    done = run_psfleet(
        "run", f"node[01-{HOSTS:02d}]", "--inventory", str(inventory), "-c", "$env:COMPUTERNAME",
        "-u", "LAB\\admin", "--retries", "0", "--executor", "local-cluster", "--workers", "2",
        "--chunk-size", "4", "--json", "--log-json", str(log_file),
    timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    finals = [e for e in map(json.loads, done.stdout.splitlines()) if e["event"] == "host_done"]
    workers = {e["worker"] for e in finals}
    assert len(workers) == 2

    lines = _log_lines(log_file)
    fallbacks = [line for line in lines if line["event"] == NTLM_FALLBACK]
    # Each worker process finds it out once (its broker lives as long as the process).
    assert {line["worker"] for line in fallbacks} == workers
    assert all(line["level"] == "info" and line["timestamp"] for line in fallbacks)
    # The per-host events the scheduler logs on the worker come back too, one per host.
    host_done = [line for line in lines if line["event"] == "host done"]
    assert sorted(line["host"] for line in host_done) == [f"node{n:02d}" for n in range(1, 9)]
    assert {line["worker"] for line in host_done} == workers
    assert DEFAULT_PASSWORD not in log_file.read_text(encoding="utf-8")
    assert DEFAULT_PASSWORD not in done.stdout + done.stderr

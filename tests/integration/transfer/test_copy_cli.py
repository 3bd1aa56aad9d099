"""psfleet copy and fetch as a user runs them, against a 100-host `psfleet sim` process.

The issue's 20 MB to each of 100 hosts (2 GB each way): 70 s on this 2-core machine, quiet
(2026-12-04, after the simulator's base64 and XML costs were cut; 179 s before).
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

FIRST_ADDRESS = "127.26.1.1"
HOSTS = 100
SIZE = 20_000_000
AUTH = ["-u", "LAB\\admin", "--retries", "0"]  # the default auth, as a user runs it
DEST = "C:\\Windows\\Temp\\payload.bin"


@dataclass
class Lab:
    inventory: Path
    port: int
    src: Path
    sha256: str

    def stats(self) -> dict[str, Any]:
        url = f"http://{FIRST_ADDRESS}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def psfleet(self, *args: str) -> Any:
        return run_psfleet(*args, "--inventory", str(self.inventory), *AUTH, timeout=300)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    folder = tmp_path_factory.mktemp("copy")
    inventory = folder / "inventory.yml"
    data = os.urandom(SIZE)
    src = folder / "payload.bin"
    src.write_bytes(data)
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--state-dir", str(folder / "sim"),
    ):  # fmt: skip
        yield Lab(inventory, port, src, hashlib.sha256(data).hexdigest().upper())


def _events(stdout: str, kind: str) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [e for e in events if e["event"] == kind]


def test_copy_to_100_hosts_verified_fetched_back_and_an_unchanged_copy_sends_nothing(
    lab: Lab, tmp_path: Path
) -> None:
    copied = lab.psfleet("copy", str(lab.src), DEST, "all", "--json")
    assert copied.returncode == 0, copied.stderr[-2000:]
    done = _events(copied.stdout, "host_done")
    assert len(done) == HOSTS
    assert {(d["status"], d["bytes"], d["sha256"], d["changed"]) for d in done} == {
        ("ok", SIZE, lab.sha256, True)
    }
    written = lab.stats()["file_bytes_written"]
    assert written == HOSTS * SIZE

    hashes = lab.psfleet(
        "run", "all", "--json", "-c", f"(Get-FileHash {DEST} -Algorithm SHA256).Hash"
    )
    assert hashes.returncode == 0, hashes.stderr[-2000:]
    outputs = {e["host"]: e["data"] for e in _events(hashes.stdout, "record")}
    assert outputs == {f"node{i:03d}": lab.sha256 for i in range(1, HOSTS + 1)}

    received = lab.stats()["bytes_in"]
    again = lab.psfleet("copy", str(lab.src), DEST, "all", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert {(d["bytes"], d["changed"]) for d in _events(again.stdout, "host_done")} == {(0, False)}
    assert lab.stats()["file_bytes_written"] == written
    # The probes' requests, not the file: well under one file's size for all hosts.
    assert lab.stats()["bytes_in"] - received < SIZE

    fetched = lab.psfleet("fetch", DEST, str(tmp_path), "all", "--json")
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    copies = sorted(tmp_path.glob("*/payload.bin"))
    assert len(copies) == HOSTS
    assert all(c.read_bytes() == lab.src.read_bytes() for c in copies)


def test_exit_codes_usage_error_2_and_a_failed_host_1(lab: Lab, tmp_path: Path) -> None:
    missing = lab.psfleet("copy", str(tmp_path / "absent.bin"), DEST, "node001")
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
    denied = lab.psfleet("copy", str(lab.src), "C:\\Windows\\System32\\payload.bin", "node001")
    assert denied.returncode == 1
    assert "denied" in denied.stdout

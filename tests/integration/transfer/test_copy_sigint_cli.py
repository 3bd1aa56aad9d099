"""Ctrl-C on `psfleet copy` in the middle of a file, as a user presses it: the process
exits 130, each host keeps the file it had, no temporary file is left beside it, and no
shell stays open on the simulated fleet (a `psfleet sim` process on 127.34.1.x)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

FIRST_ADDRESS = "127.34.1.1"
HOSTS = 2
AUTH = ["-u", "LAB\\admin", "--auth", "ntlm", "--retries", "0"]
DEST = "C:\\Windows\\Temp\\app.bin"
# ~70 Sends of a 20 ms round trip each: seconds of file in flight when the signal lands.
NEW_SIZE = 6_000_000


@dataclass
class Lab:
    inventory: Path
    port: int

    def stats(self) -> dict[str, Any]:
        url = f"http://{FIRST_ADDRESS}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def options(self) -> list[str]:
        return ["--inventory", str(self.inventory), *AUTH]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    inventory = tmp_path / "inventory.yml"
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--rtt-ms", "20", "--state-dir", str(tmp_path / "sim"),
    ):  # fmt: skip
        yield Lab(inventory, port)


def _write(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest().upper()


def _outputs(lab: Lab, script: str) -> dict[str, list[Any]]:
    done = run_psfleet("run", "all", "--json", *lab.options(), "-c", script)
    assert done.returncode == 0, done.stderr[-2000:]
    outputs: dict[str, list[Any]] = {}
    for line in done.stdout.splitlines():
        event = json.loads(line)
        if event["event"] == "record":
            outputs.setdefault(event["host"], []).append(event["data"])
    return outputs


def _written_on_every_host(lab: Lab, before: dict[str, int]) -> bool:
    hosts = lab.stats()["hosts"]
    return all(hosts[name]["file_bytes_written"] > before[name] for name in before)


def test_sigint_mid_file_exits_130_and_leaves_dest_temp_files_and_shells_as_they_were(
    lab: Lab, tmp_path: Path
) -> None:
    old, new = tmp_path / "v1.bin", tmp_path / "v2.bin"
    old_sha = _write(old, 1000)
    new_sha = _write(new, NEW_SIZE)
    first = run_psfleet("copy", str(old), DEST, "all", *lab.options())
    assert first.returncode == 0, first.stderr[-2000:]
    before = {name: row["file_bytes_written"] for name, row in lab.stats()["hosts"].items()}
    assert len(before) == HOSTS

    copy = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "copy", str(new), DEST, "all", *lab.options()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PSFLEET_PASSWORD": DEFAULT_PASSWORD},
    )
    deadline = time.monotonic() + 60
    while not _written_on_every_host(lab, before) and copy.poll() is None:
        assert time.monotonic() < deadline, "no host received a byte of the new file"
        time.sleep(0.05)
    written = sum(row["file_bytes_written"] for row in lab.stats()["hosts"].values())
    assert copy.poll() is None, "the copy ended before the signal: nothing was interrupted"
    copy.send_signal(signal.SIGINT)
    _, stderr = copy.communicate(timeout=60)

    assert copy.returncode == 130, stderr[-2000:]
    assert written - sum(before.values()) < HOSTS * NEW_SIZE  # the signal came mid-file
    assert lab.stats()["shells_open"] == 0
    hashes = _outputs(lab, f"(Get-FileHash {DEST} -Algorithm SHA256).Hash")
    assert hashes == {name: [old_sha] for name in before}
    assert new_sha != old_sha
    files = _outputs(lab, "[System.IO.Directory]::GetFiles('C:\\Windows\\Temp')")
    assert files == {name: [DEST] for name in before}

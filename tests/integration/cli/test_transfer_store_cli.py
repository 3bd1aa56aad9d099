"""`psfleet copy` and `psfleet fetch` are recorded in the run store like `psfleet run`:
`runs` and `show` list them with what each host moved, and `--rerun` takes their hosts.
Against a `psfleet sim` subprocess on 127.30.1.x."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

PASSWORD = "psfleet-demo"
FIRST_ADDRESS = "127.30.1.1"
AUTH = ["-u", "LAB\\admin", "--auth", "ntlm", "--retries", "0"]
DEST = "C:\\Windows\\Temp\\tool.bin"
DATA = b"psfleet transfer record " * 1000


@dataclass
class Lab:
    inventory: Path
    state: Path
    src: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PSFLEET_PASSWORD": PASSWORD, "PSFLEET_STATE_DIR": str(self.state)}
        return subprocess.run(
            [sys.executable, "-m", "psfleet", *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    def transfer(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli(*args, "--inventory", str(self.inventory), *AUTH)

    def json(self, *args: str) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("transferstore")
    port = free_port(FIRST_ADDRESS)
    with sim_process(
        "--hosts", "4", "--base-address", FIRST_ADDRESS, "--port", str(port),
        "--inventory", str(folder / "inventory.yml"), "--state-dir", str(folder / "sim"),
        "--faults", "refuse:node04",
    ):  # fmt: skip
        yield folder / "inventory.yml"


@pytest.fixture
def lab(fleet: Path, tmp_path: Path) -> Lab:
    src = tmp_path / "tool.bin"
    src.write_bytes(DATA)
    return Lab(fleet, tmp_path / "state", src)


def moved(shown: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {h["host"]: (h["status"], h["bytes"], h["sha256"], h["changed"]) for h in shown["hosts"]}


def test_a_copy_is_recorded_with_what_each_host_received(lab: Lab) -> None:
    copied = lab.transfer("copy", str(lab.src), DEST, "node[01-04]", "--force")
    assert copied.returncode == 1, copied.stderr  # node04 refuses connections

    [run] = lab.json("runs")
    assert run["kind"] == "copy"
    assert run["commands"] == [f"copy {lab.src} '{DEST}' --force"]
    assert run["counts"] == {"ok": 3, "unreachable": 1}
    shown = lab.json("show", "last")
    digest = hashlib.sha256(DATA).hexdigest().upper()
    assert moved(shown) == {
        **{f"node0{n}": ("ok", len(DATA), digest, True) for n in (1, 2, 3)},
        "node04": ("unreachable", None, None, None),
    }
    printed = lab.cli("show", "last")
    assert printed.returncode == 0 and "node04" in printed.stdout


def test_rerun_of_a_copy_takes_its_selected_hosts_and_fetch_is_recorded_too(
    lab: Lab, tmp_path: Path
) -> None:
    assert lab.transfer("copy", str(lab.src), DEST, "node[01-04]").returncode == 1
    again = lab.transfer("copy", str(lab.src), DEST, "--rerun", "last:ok")
    assert again.returncode == 0, again.stderr
    [rerun, _] = lab.json("runs")
    assert rerun["targets"]["rerun"] == "last:ok"
    assert {h: m[1:] for h, m in moved(lab.json("show", "last")).items()} == {
        f"node0{n}": (0, hashlib.sha256(DATA).hexdigest().upper(), False) for n in (1, 2, 3)
    }  # the hosts had the file already: nothing sent, and the store says so

    fetched = lab.transfer("fetch", DEST, str(tmp_path / "got"), "node[02-04]")
    assert fetched.returncode == 1
    [fetch, *_] = lab.json("runs")
    assert fetch["kind"] == "fetch" and fetch["counts"] == {"ok": 2, "unreachable": 1}
    assert fetch["commands"] == [f"fetch '{DEST}' {tmp_path / 'got'}"]
    shown = moved(lab.json("show", "last"))
    assert shown["node02"][:2] == ("ok", len(DATA)) and shown["node04"][0] == "unreachable"


def test_a_rerun_of_a_copy_as_a_command_needs_its_script(lab: Lab) -> None:
    assert lab.transfer("copy", str(lab.src), DEST, "node[01-04]").returncode == 1
    refused = lab.transfer("run", "--rerun", "last:not-ok")
    assert refused.returncode == 2
    assert "was a copy: give -c" in refused.stderr
    probed = lab.transfer("run", "--rerun", "last:not-ok", "-c", "hostname", "--json")
    assert probed.returncode == 1  # node04, the one not ok, still refuses
    done = [json.loads(line) for line in probed.stdout.splitlines()]
    assert [e["host"] for e in done if e["event"] == "host_done"] == ["node04"]

"""`psfleet run --disconnected`, then `psfleet receive`: the client leaves (or is killed),
the commands run on, and a later process collects every host's output. Against `psfleet
sim` subprocesses on 127.27.4.x and 127.27.5.x."""

from __future__ import annotations

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

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

PASSWORD = "psfleet-demo"
AUTH = ["-u", "LAB\\admin", "--auth", "ntlm", "--retries", "0"]
STEPS = '1..3 | ForEach-Object { Start-Sleep -Milliseconds 200; "$_ $env:COMPUTERNAME" }'


@dataclass
class Fleet:
    inventory: Path
    address: str
    port: int

    def stats(self) -> dict[str, Any]:
        url = f"http://{self.address}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def wait_for(self, what: str, done: Any, limit_s: float = 60) -> None:
        deadline = time.monotonic() + limit_s
        while not done(self.stats()[what]):
            assert time.monotonic() < deadline, f"{what} stayed {self.stats()[what]}"
            time.sleep(0.2)


def start_fleet(tmp: Path, address: str, hosts: int, *extra: str) -> Any:
    port = free_port(address)
    inventory = tmp / "inventory.yml"
    process = sim_process(
        "--hosts", str(hosts), "--base-address", address, "--port", str(port),
        "--inventory", str(inventory), *extra,
    )  # fmt: skip
    return process, Fleet(inventory, address, port)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    process, lab = start_fleet(tmp_path_factory.mktemp("disconnected"), "127.27.4.1", 200)
    with process:
        yield lab


def env(state: Path) -> dict[str, str]:
    return {**os.environ, "PSFLEET_PASSWORD": PASSWORD, "PSFLEET_STATE_DIR": str(state)}


def cli(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "psfleet", *args],
        capture_output=True, text=True, env=env(state), timeout=300, check=False,
    )  # fmt: skip


def received(state: Path, inventory: Path) -> tuple[int, dict[str, str], dict[str, list[Any]]]:
    done = cli(state, "receive", "last", *AUTH, "--json")
    events = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = {e["host"]: e["status"] for e in events if e["event"] == "host_done"}
    records: dict[str, list[Any]] = {}
    for e in events:
        if e["event"] == "record":
            records.setdefault(e["host"], []).append(e["data"])
    return done.returncode, statuses, records


def expected(host: str) -> list[str]:
    return [f"{n} {host.upper()}" for n in (1, 2, 3)]


def test_the_client_exits_and_receive_gets_every_hosts_full_output(
    fleet: Fleet, tmp_path: Path
) -> None:
    started = cli(tmp_path, "run", "all", "--inventory", str(fleet.inventory), *AUTH,
                  "--disconnected", "-c", STEPS)  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert "Started on 200 of 200 hosts and disconnected" in started.stdout
    assert fleet.stats()["shells_open"] == 200  # the commands run on without a client
    [run] = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert run["state"] == "disconnected" and run["counts"] == {"disconnected": 200}

    code, statuses, records = received(tmp_path, fleet.inventory)
    assert code == 0
    assert statuses == {f"node{n:03d}": "ok" for n in range(1, 201)}
    assert all(records[host] == expected(host) for host in statuses)
    fleet.wait_for("shells_open", lambda n: n == 0)

    shown = json.loads(cli(tmp_path, "show", "last", "--json").stdout)
    assert shown["run"]["state"] == "done"
    for host in shown["hosts"]:  # recorded once each, in order
        assert [r["data"] for r in host["records"]] == expected(host["host"])
    again = cli(tmp_path, "receive", "last", *AUTH)
    assert again.returncode == 0 and "every host" in again.stderr


def test_a_client_killed_mid_run_loses_nothing(fleet: Fleet, tmp_path: Path) -> None:
    before = fleet.stats()["shells_opened"]
    process = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "run", "all", "--inventory", str(fleet.inventory),
         *AUTH, "--throttle", "4", "--disconnected", "-c", STEPS],
        env=env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    fleet.wait_for("shells_opened", lambda n: n >= before + 20)
    process.send_signal(signal.SIGKILL)
    process.wait()
    [run] = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert run["state"] == "disconnected"  # every host's ids were recorded before any start

    done = cli(tmp_path, "receive", "last", *AUTH, "--json")
    ends = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = {e["host"]: e["status"] for e in ends if e["event"] == "host_done"}
    assert len(statuses) == 200
    ok = [host for host, status in statuses.items() if status == "ok"]
    assert len(ok) >= 20 and set(statuses.values()) <= {"ok", "cancelled", "lost"}
    assert done.returncode == (0 if len(ok) == 200 else 1)
    records: dict[str, list[Any]] = {}
    for e in ends:
        if e["event"] == "record":
            records.setdefault(e["host"], []).append(e["data"])
    assert all(records[host] == expected(host) for host in ok)  # whole, and once
    # The hosts the start never came to were never started, not lost; at most the few
    # in flight at the kill (the throttle) may have had a pool made and no command.
    never = [e for e in ends if e["event"] == "host_done" and e["status"] == "cancelled"]
    assert all(e["error_type"] == "NeverStarted" for e in never)
    assert list(statuses.values()).count("lost") <= 4
    fleet.wait_for("shells_open", lambda n: n == 0)
    # Final: recorded as such, so --rerun RUN:cancelled runs exactly those.
    [run] = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert run["counts"].get("cancelled", 0) == len(never)


def test_a_pool_expired_on_the_host_ends_lost_not_hung(tmp_path: Path) -> None:
    process, lab = start_fleet(tmp_path, "127.27.5.1", 3, "--idle-timeout", "1")
    with process:
        started = cli(tmp_path, "run", "all", "--inventory", str(lab.inventory), *AUTH,
                      "--disconnected", "--idle-timeout", "1", "-c", "Start-Sleep 60")  # fmt: skip
        assert started.returncode == 0, started.stderr
        lab.wait_for("shells_open", lambda n: n == 0)  # deleted past its IdleTimeOut
        begun = time.monotonic()
        code, statuses, records = received(tmp_path, lab.inventory)
        assert time.monotonic() - begun < 60
        assert code == 1 and statuses == {f"node{n:02d}": "lost" for n in (1, 2, 3)}
        assert records == {}
        shown = json.loads(cli(tmp_path, "show", "last", "--json").stdout)
        assert {h["error_type"] for h in shown["hosts"]} == {"ShellNotFound"}

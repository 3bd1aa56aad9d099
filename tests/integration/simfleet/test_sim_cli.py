"""`psfleet sim` as a user runs it: ready line, inventory, TLS, workers, clean stop on signals."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
import yaml
from pypsrp.client import Client
from raw_wsman import PASSWORD, USER

from psfleet.simfleet.addresses import allocate

PSFLEET = str(Path(sys.executable).with_name("psfleet"))
READY_TIMEOUT_S = 60.0


@contextmanager
def sim(*arguments: str) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    """A running `psfleet sim`; yields it and its ready line's key=value fields."""
    process = subprocess.Popen(
        [PSFLEET, "sim", *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = _read_line(process, READY_TIMEOUT_S)
        assert line.startswith("ready "), line
        yield process, dict(part.split("=", 1) for part in line.split()[1:])
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: workers are stopped too
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            raise AssertionError(f"psfleet sim said nothing in {timeout_s}s")
    return process.stdout.readline().strip()


def stop(process: subprocess.Popen[str], signum: int) -> tuple[int, str]:
    """Send a signal; returns the exit code and what it printed until it ended."""
    process.send_signal(signum)
    out, _ = process.communicate(timeout=30)
    return process.returncode, out


def execute(address: str, port: int, script: str = "hostname", **options: Any) -> str:
    client = Client(address, port=port, username=USER, password=PASSWORD, auth="ntlm", **options)
    output, _, had_errors = client.execute_ps(script)
    assert not had_errors
    return str(output)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ready_line_inventory_and_a_clean_stop(tmp_path: Path, signum: int) -> None:
    inventory = tmp_path / "hosts.yml"
    arguments = ["--hosts", "3", "--cluster", "CL01", "--base-address", "127.1.60.1"]
    with sim(*arguments, "--port", "0", "--inventory", str(inventory)) as (process, ready):
        assert ready["hosts"] == "3" and ready["scheme"] == "http" and ready["workers"] == "1"
        assert ready["addresses"] == "127.1.60.1-127.1.60.3"
        assert ready["cluster"] == "CL01" and ready["inventory"] == str(inventory)
        document = yaml.safe_load(inventory.read_text())
        hosts = document["all"]["hosts"]
        assert list(hosts) == ["node01", "node02", "node03"]
        assert hosts["node02"]["ansible_host"] == "127.1.60.2"
        assert list(document["all"]["children"]["CL01"]["hosts"]) == list(hosts)
        node02 = hosts["node02"]
        assert execute(node02["ansible_host"], node02["ansible_port"], ssl=False) == "NODE02"
        code, out = stop(process, signum)
    assert (code, out.strip()) == (0, "stopped")


def test_tls_ends_the_ready_line_with_the_ca(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    arguments = ["--hosts", "2", "--tls", "--base-address", "127.1.61.1", "--port", "0"]
    with sim(*arguments, "--inventory", str(inventory)) as (process, ready):
        line_end = list(ready)[-1]
        assert line_end == "ca" and Path(ready["ca"]).is_file()
        assert ready["scheme"] == "https"
        host = yaml.safe_load(inventory.read_text())["all"]["hosts"]["node01"]
        assert host["ansible_winrm_scheme"] == "https"
        address, port = host["ansible_host"], host["ansible_port"]
        stats = requests.get(f"https://{address}:{port}/stats", verify=ready["ca"], timeout=5)
        assert stats.json()["shells_open"] == 0
        output = execute(address, port, ssl=True, cert_validation=ready["ca"])
        assert output == "NODE01"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://{address}:{port}/stats", timeout=5)  # not a trusted CA
        assert stop(process, signal.SIGTERM) == (0, "stopped\n")


def test_workers_share_the_hosts_and_the_stats() -> None:
    arguments = ["--hosts", "6", "--workers", "2", "--base-address", "127.1.62.1"]
    with sim(*arguments, "--port", "25985") as (process, ready):
        assert ready["workers"] == "2" and ready["port"] == "25985"
        children = psutil.Process(process.pid).children()  # workers, resource tracker
        served = {}  # listening address -> worker pid
        for child in children:
            for connection in child.net_connections("tcp"):
                if connection.status == psutil.CONN_LISTEN:
                    served[connection.laddr.ip] = child.pid
        assert len(served) == 6 and len(set(served.values())) == 2
        addresses = [f"127.1.62.{i}" for i in range(1, 7)]
        outputs = [execute(address, 25985, ssl=False) for address in addresses]
        assert outputs == [f"NODE0{i}" for i in range(1, 7)]
        totals = [
            requests.get(f"http://{address}:25985/stats", timeout=5).json()
            for address in addresses[:2]  # node01 and node02 live in different workers
        ]
        assert served[addresses[0]] != served[addresses[1]]
        for stats in totals:
            assert stats["shells_opened"] == stats["executions"] == 6
            assert stats["shells_open"] == 0
            assert stats["hosts"]["node05"]["executions"] == 1
        code, out = stop(process, signal.SIGTERM)
        assert (code, out.strip()) == (0, "stopped")
    _, alive = psutil.wait_procs(children, timeout=10)  # nothing is left behind
    assert alive == []


def test_workers_stop_when_their_parent_is_killed() -> None:
    arguments = ["--hosts", "2", "--workers", "2", "--base-address", "127.1.63.1"]
    with sim(*arguments, "--port", "25985") as (process, _):
        children = psutil.Process(process.pid).children()
        process.kill()
        _, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []


def test_a_bad_option_is_a_usage_error() -> None:
    result = subprocess.run(
        [PSFLEET, "sim", "--faults", "bogus:5%"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown fault kind" in result.stderr


@pytest.mark.slow
def test_5000_hosts_start_in_one_process() -> None:
    started = time.monotonic()
    with sim("--hosts", "5000", "--base-address", "127.3.0.1", "--port", "0") as (process, ready):
        start_s = time.monotonic() - started
        last = allocate("127.3.0.1", 5000)[-1]
        assert ready["hosts"] == "5000" and ready["addresses"] == f"127.3.0.1-{last}"
        assert psutil.Process(process.pid).num_fds() > 5000
        first = ready["addresses"].split("-")[0]
        stats = json.loads(requests.get(f"http://{first}:{ready['port']}/stats", timeout=5).text)
        assert len(stats["hosts"]) == 5000
        assert stop(process, signal.SIGINT) == (0, "stopped\n")
    assert start_s < 60

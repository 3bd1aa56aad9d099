"""`psfleet sim --lockout-threshold N` as a user runs it, alone and with workers, seen by pypsrp.

With workers, hosts alternate between processes: bad passwords on hosts served by
different workers must count against one account, and /stats on any host says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

USER, PASSWORD = "LAB\\admin", "psfleet-demo"


def logon(address: str, port: int, password: str) -> bool:
    """pypsrp over NTLM: True if the command ran, False if the logon was refused."""
    client = Client(address, port=port, username=USER, password=password, auth="ntlm", ssl=False)
    try:
        output, _, had_errors = client.execute_ps("$env:COMPUTERNAME")
    except AuthenticationError:
        return False
    assert not had_errors and output
    return True


def admin_account(address: str, port: int) -> dict[str, Any]:
    stats = requests.get(f"http://{address}:{port}/stats", timeout=10).json()
    row: dict[str, Any] = stats["accounts"][USER]
    return row


def test_the_cli_threshold_locks_the_account_on_every_host(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    arguments = ["--hosts", "4", "--base-address", "127.8.20.1", "--port", "0"]
    with sim_process(*arguments, "--inventory", str(inventory), "--lockout-threshold", "3"):
        hosts = yaml.safe_load(inventory.read_text(encoding="utf-8"))["all"]["hosts"]
        endpoints = [(h["ansible_host"], h["ansible_port"]) for h in hosts.values()]
        assert not logon(*endpoints[0], "wrong")
        assert not logon(*endpoints[1], "wrong")
        assert logon(*endpoints[2], PASSWORD)  # below the threshold: works, and resets
        for endpoint in endpoints[:3]:
            assert not logon(*endpoint, "wrong")
        assert not logon(*endpoints[3], PASSWORD)
        assert admin_account(*endpoints[3]) == {
            "bad_password_count": 3,
            "locked": True,
            "failed_logons": 6,
            "lockouts": 1,
        }


def test_without_the_option_an_account_never_locks(tmp_path: Path) -> None:
    arguments = ["--hosts", "1", "--base-address", "127.8.22.1", "--port", "0"]
    with sim_process(*arguments) as sim:
        address, port = sim.fields["addresses"].split("-")[0], int(sim.fields["port"])
        for _ in range(4):
            assert not logon(address, port, "wrong")
        assert logon(address, port, PASSWORD)
        assert admin_account(address, port)["lockouts"] == 0


@pytest.mark.parametrize("duration", ["1800", "0"])
def test_workers_count_bad_passwords_against_one_shared_account(duration: str) -> None:
    first = "127.8.21.1"
    port = free_port(first)
    addresses = [f"127.8.21.{i}" for i in range(1, 5)]  # node01, node03 in one worker; 02, 04
    arguments = ["--hosts", "4", "--workers", "2", "--base-address", first, "--port", str(port)]
    with sim_process(*arguments, "--lockout-threshold", "2", "--lockout-duration", duration):
        assert not logon(addresses[0], port, "wrong")
        assert not logon(addresses[1], port, "wrong")  # the other worker: the second bad one
        assert not logon(addresses[2], port, PASSWORD)
        assert not logon(addresses[3], port, PASSWORD)
        for address in addresses[:2]:
            assert admin_account(address, port) == {
                "bad_password_count": 2,
                "locked": True,
                "failed_logons": 4,
                "lockouts": 1,
            }

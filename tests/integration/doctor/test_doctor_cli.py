"""`psfleet doctor` from the command line: the table, --json, exit codes, inventory names."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from psfleet.cli.app import app
from psfleet.simfleet import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread

from .conftest import NO_LAB_REALM, PASSWORD, USER, next_network

ENV = {"PSFLEET_PASSWORD": PASSWORD}
TIMEOUTS = ["--connect-timeout", "5", "--operation-timeout", "5"]


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(hosts=3, base_address=next_network(), port=5985, faults="refuse:node03")
    with fleet_in_thread(config) as running:
        yield running


@pytest.fixture
def inventory(fleet: ThreadedFleet, tmp_path: Path) -> Path:
    path = tmp_path / "lab.yml"
    fleet.fleet.write_inventory(path)
    return path


def doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor", *args], env={**ENV, **(env or {})})
    return result.exit_code, result.stdout


def test_json_for_a_healthy_host_and_exit_0(fleet: ThreadedFleet, inventory: Path) -> None:
    code, out = doctor(
        "node01", "--inventory", str(inventory), "-u", USER, "--auth", "ntlm", "--json", *TIMEOUTS
    )
    report = json.loads(out)
    assert code == 0
    assert report["host"] == "node01"
    assert [c["name"] for c in report["checks"]][:2] == ["resolve", "tcp"]
    for check in report["checks"]:
        assert set(check) == {"name", "status", "ok", "detail", "remedy", "facts"}
        assert check["status"] == "passed" and check["ok"] is True


def test_json_for_a_refused_port_and_exit_1(fleet: ThreadedFleet, inventory: Path) -> None:
    code, out = doctor(
        "node03", "--inventory", str(inventory), "-u", USER, "--auth", "ntlm", "--json", *TIMEOUTS
    )
    checks = json.loads(out)["checks"]
    assert code == 1
    assert [(c["name"], c["status"]) for c in checks[:2]] == [
        ("resolve", "passed"),
        ("tcp", "failed"),
    ]
    tcp = checks[1]
    assert tcp["ok"] is False and "Enable-PSRemoting -Force" in tcp["remedy"]
    # The checks after it did not run, and say so: not a failure of their own, no remedy.
    after = checks[2:]
    assert [c["name"] for c in after] == ["tls", "listener", "auth_offered", "credentials", "quota"]
    for check in after:
        assert check["status"] == "skipped" and check["detail"] == "skipped: tcp failed"
        assert check["ok"] is False and check["remedy"] is None


def test_the_table_counts_skipped_checks(fleet: ThreadedFleet, inventory: Path) -> None:
    code, out = doctor("node03", "--inventory", str(inventory), "-u", USER, "--auth", "ntlm")
    assert code == 1
    assert "- skipped" in out and "✗ FAIL" in out
    assert "1 of 7 checks passed, 5 skipped (fix the first failure)" in out


def test_negotiate_without_a_kdc_reports_the_ntlm_fallback_first(
    fleet: ThreadedFleet, inventory: Path, tmp_path: Path
) -> None:
    conf = tmp_path / "krb5.conf"
    conf.write_text(NO_LAB_REALM)
    code, out = doctor(
        "node01", "--inventory", str(inventory), "-u", USER, "--json", *TIMEOUTS,
        env={"KRB5_CONFIG": str(conf)},
    )  # fmt: skip
    checks = json.loads(out)["checks"]
    assert code == 0
    kdc = checks[0]
    assert kdc["name"] == "kdc" and kdc["status"] == "passed"
    assert "Negotiate will use NTLM" in kdc["detail"]
    assert kdc["facts"]["realm"] == "LAB" and kdc["facts"]["negotiate_uses"] == "ntlm"
    assert isinstance(kdc["facts"]["elapsed_ms"], int)


def test_the_table_shows_each_check_and_its_remedy(fleet: ThreadedFleet) -> None:
    address = fleet.hosts[0].address
    code, out = doctor(
        address, "--port", "5985", "-u", USER, "--auth", "ntlm", "--second-hop", "node02", *TIMEOUTS
    )
    assert code == 1
    for word in ("resolve", "second_hop", "✓", "✗", "double hop denied", "Enable-WSManCredSSP"):
        assert word in out
    assert "7 of 8 checks passed" in out
    assert PASSWORD not in out


def test_usage_errors_exit_2(fleet: ThreadedFleet, inventory: Path) -> None:
    assert doctor("node01", "--auth", "nope", *TIMEOUTS)[0] == 2
    assert (
        doctor("node01", "-u", USER, "--auth", "ntlm", "--second-hop", "x'; rm", *TIMEOUTS)[0] == 2
    )
    assert doctor("node*", "--inventory", str(inventory), "-u", USER, "--auth", "ntlm")[0] == 2

"""Unmodified pywinrm works against simfleet: run_cmd and run_ps over NTLM with encryption."""

from collections.abc import Iterator

import pytest
import winrm

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(SimConfig(hosts=2, base_address="127.1.12.1", port=0)) as running:
        yield running


def _session(fleet: ThreadedFleet, index: int = 0) -> winrm.Session:
    host = fleet.hosts[index]
    return winrm.Session(
        f"http://{host.address}:{host.port}/wsman",
        auth=("LAB\\admin", "psfleet-demo"),
        transport="ntlm",
    )


def test_run_cmd_returns_stdout_stderr_and_exit_code(fleet: ThreadedFleet) -> None:
    session = _session(fleet)
    result = session.run_cmd("ipconfig", ["/all"])
    assert result.status_code == 0
    assert fleet.hosts[0].address.encode() in result.std_out
    failed = session.run_cmd("cmd.exe", ["/c", "echo out && echo err 1>&2 && exit /b 3"])
    assert failed.status_code == 3
    assert failed.std_out.strip() == b"out"
    assert failed.std_err.strip() == b"err"
    assert session.run_cmd("hostname").std_out.strip() == b"NODE01"
    assert fleet.stats(fleet.hosts[0].name)["shells_open"] == 0


def test_run_ps_formats_objects_and_reports_errors(fleet: ThreadedFleet) -> None:
    session = _session(fleet, 1)
    result = session.run_ps("Get-Service WinRM")
    assert result.status_code == 0
    assert b"WinRM" in result.std_out and b"Running" in result.std_out
    failed = session.run_ps("Get-Nothing")
    assert failed.status_code == 1
    assert b"is not recognized" in failed.std_err

"""The pytest plugin's fixtures, as a user's test gets them (through the pytest11 entry point
of the installed package: no conftest here provides them)."""

from __future__ import annotations

import socket
from contextlib import ExitStack

import pytest

import psfleet
from psfleet.testing.lab import SimLab
from psfleet.testing.pytest_plugin import SimFleetStarter

HostStatus = psfleet.HostStatus


def _run(
    lab: SimLab, script: str, credential: tuple[str, str] | None = None
) -> psfleet.FleetResult:
    return psfleet.run(
        lab.targets,
        script,
        inventory=lab.inventory,
        credential=credential or lab.credential,
    )


def _listening(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return True
    except ConnectionRefusedError:
        return False


def test_simlab_is_three_healthy_hosts_that_answer_psfleet(simlab: SimLab) -> None:
    result = _run(simlab, "$env:COMPUTERNAME")
    assert simlab.targets == ["node01", "node02", "node03"]
    assert {name: host.status for name, host in result.hosts.items()} == dict.fromkeys(
        simlab.targets, HostStatus.OK
    )
    assert result.hosts["node02"].output == ["NODE02"]


def test_a_fleet_in_a_thread_injects_the_faults_it_was_given(simfleet: SimFleetStarter) -> None:
    lab = simfleet(hosts=3, faults="refuse:node03", base_address="127.21.1.1")
    result = _run(lab, "hostname")
    assert result.hosts["node01"].status is HostStatus.OK
    assert result.hosts["node03"].status is HostStatus.UNREACHABLE
    assert not _listening(lab.host("node03").address, lab.host("node03").port)
    assert lab.stats("node01")["requests"] > 0


def test_a_subprocess_fleet_knows_only_the_accounts_it_was_given(
    simfleet: SimFleetStarter,
) -> None:
    lab = simfleet(
        hosts=2,
        accounts={"LAB\\ops": "0ps-Passw0rd", "LAB\\audit": "aud1t-Passw0rd"},
        base_address="127.21.2.1",
        subprocess=True,
    )
    assert lab.credential == ("LAB\\ops", "0ps-Passw0rd")
    assert "0ps-Passw0rd" not in repr(lab)
    assert all(host.status is HostStatus.OK for host in _run(lab, "hostname"))
    demo = _run(lab, "hostname", credential=("LAB\\admin", "psfleet-demo"))
    assert all(host.status is HostStatus.AUTH_FAILED for host in demo)
    assert lab.stats("node01")["auth_failures"] >= 1


def test_a_cluster_fleet_writes_the_cluster_group_into_its_inventory(
    simfleet: SimFleetStarter,
) -> None:
    lab = simfleet(hosts=2, cluster="CLUSTER07", base_address="127.21.3.1")
    result = psfleet.run(
        "CLUSTER07", "hostname", inventory=lab.inventory, credential=lab.credential
    )
    assert sorted(result.hosts) == ["node01", "node02"]
    assert result.ok


@pytest.mark.parametrize("subprocess", [False, True], ids=["thread", "subprocess"])
def test_every_fleet_of_the_factory_stops_when_it_closes(
    tmp_path_factory: pytest.TempPathFactory, subprocess: bool
) -> None:
    with ExitStack() as stack:
        start = SimFleetStarter(stack, tmp_path_factory)
        labs = [
            start(hosts=1, base_address="127.21.4.1", subprocess=subprocess),
            start(hosts=1, base_address="127.21.4.2", subprocess=subprocess),
        ]
        hosts = [lab.hosts[0] for lab in labs]
        assert all(_listening(host.address, host.port) for host in hosts)
    assert not any(_listening(host.address, host.port) for host in hosts)


def test_accounts_that_would_corrupt_the_users_file_are_refused(
    simfleet: SimFleetStarter,
) -> None:
    with pytest.raises(ValueError, match="without ':'"):
        simfleet(accounts={"LAB\\a:b": "x"})
    with pytest.raises(ValueError, match="one line"):
        simfleet(accounts={"LAB\\ops": "pass\nLAB\\evil:x"})

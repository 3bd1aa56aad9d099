"""Unmodified pypsrp 0.9.1 works against simfleet over real sockets."""

from collections.abc import Iterator

import pytest
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
# Tests that are not about Negotiate use NTLM: a Negotiate client first tries Kerberos,
# whose DNS lookups can stall for the resolver's timeout on a machine without DNS.


@pytest.fixture(scope="module")
def http_fleet() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(
        SimConfig(hosts=3, cluster="CLUSTER01", base_address="127.1.10.1", port=0)
    ) as fleet:
        yield fleet


@pytest.fixture(scope="module")
def https_fleet() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(SimConfig(hosts=2, base_address="127.1.11.1", port=0, tls=True)) as fleet:
        yield fleet


def _wsman(fleet: ThreadedFleet, index: int = 0, **kwargs: object) -> WSMan:
    host = fleet.hosts[index]
    options = {"ssl": False, "auth": "ntlm", "encryption": "auto"} | kwargs
    return WSMan(
        host.address,
        port=host.port,
        username=USER,
        password=PASSWORD,
        cert_validation=False,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "credssp"])
def test_execute_ps_with_message_encryption(http_fleet: ThreadedFleet, auth: str) -> None:
    host = http_fleet.hosts[0]
    client = Client(
        host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth=auth
    )
    output, _, had_errors = client.execute_ps("$env:COMPUTERNAME; Get-Service WinRM")
    assert not had_errors
    assert output.splitlines()[0] == "NODE01"
    assert "WinRM" in output
    assert http_fleet.stats(host.name)["shells_open"] == 0


def test_execute_ps_reports_errors(http_fleet: ThreadedFleet) -> None:
    host = http_fleet.hosts[1]
    client = Client(
        host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth="ntlm"
    )
    _, streams, had_errors = client.execute_ps("Get-Nothing")
    assert had_errors
    assert "is not recognized" in str(streams.error[0])


def test_runspace_pool_with_several_commands_and_input(http_fleet: ThreadedFleet) -> None:
    host = http_fleet.hosts[2]
    before = http_fleet.stats(host.name)
    with RunspacePool(_wsman(http_fleet, 2)) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "WinRM")
        services = ps.invoke()
        # Name is an alias property of ServiceController: Windows puts it among the extended ones.
        assert services[0].extended_properties["Name"] == "WinRM"
        assert services[0].adapted_properties["ServiceName"] == "WinRM"
        assert str(services[0].adapted_properties["Status"]) == "Running"

        ps = PowerShell(pool)
        ps.add_script("$input | Measure-Object -Sum | Select-Object -ExpandProperty Sum")
        # pypsrp annotates input as an iterator but iterates it as a list (len, indexing).
        assert ps.invoke(input=[1, 2, 3, 4]) == [10]  # type: ignore[arg-type]

        ps = PowerShell(pool)
        ps.add_script("Write-Warning 'careful'; 1..3")
        assert ps.invoke() == [1, 2, 3]
        assert [w.message for w in ps.streams.warning] == ["careful"]
    after = http_fleet.stats(host.name)
    assert after["shells_open"] == 0
    assert after["executions"] - before["executions"] == 3


def test_https_basic_with_certificate_verification(https_fleet: ThreadedFleet) -> None:
    host = https_fleet.hosts[0]
    client = Client(
        host.address,
        port=host.port,
        username=USER,
        password=PASSWORD,
        ssl=True,
        auth="basic",
        cert_validation=str(https_fleet.fleet.ca_file),
    )
    output, _, had_errors = client.execute_ps("hostname")
    assert not had_errors and output == "NODE01"


def test_wrong_password_is_rejected_and_counted(http_fleet: ThreadedFleet) -> None:
    host = http_fleet.hosts[0]
    before = http_fleet.stats(host.name)["auth_failures"]
    client = Client(
        host.address, port=host.port, username=USER, password="wrong", ssl=False, auth="ntlm"
    )
    with pytest.raises(AuthenticationError):
        client.execute_ps("hostname")
    assert http_fleet.stats(host.name)["auth_failures"] > before


def test_ntlm_over_https_against_a_strict_cbt_host() -> None:
    # pypsrp binds NTLM to the certificate it saw (negotiate_send_cbt, on by default).
    config = SimConfig(hosts=1, base_address="127.1.13.1", port=0, tls=True, cbt_hardening="strict")
    with fleet_in_thread(config) as fleet:
        host = fleet.hosts[0]

        def client(**settings: bool) -> Client:
            return Client(
                host.address,
                port=host.port,
                username=USER,
                password=PASSWORD,
                ssl=True,
                auth="ntlm",
                cert_validation=str(fleet.fleet.ca_file),
                **settings,
            )

        output, _, had_errors = client().execute_ps("hostname")
        assert not had_errors and output == "NODE01"
        with pytest.raises(AuthenticationError):
            client(negotiate_send_cbt=False).execute_ps("hostname")

"""simfleet's hosts accept Kerberos with their own service keys, as Windows hosts do with
their machine accounts: psfleet, pypsrp and pywinrm against a real MIT KDC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import winrm
from pypsrp.client import Client

import psfleet
from psfleet.simfleet import SimConfig
from psfleet.targets.model import Target
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.testing.kdc import MitKdc

DEMO_USER, DEMO_PASSWORD = "LAB\\admin", "psfleet-demo"  # simfleet's NTLM account


@pytest.fixture(scope="module")
def shared_keytab(kdc: MitKdc, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the KDC's keytab for the fleet to split, and for a test to delete."""
    copy = tmp_path_factory.mktemp("keytab") / "http.keytab"
    copy.write_bytes(kdc.keytab.read_bytes())
    return copy


@pytest.fixture(scope="module")
def fleet(kdc: MitKdc, shared_keytab: Path) -> Iterator[ThreadedFleet]:
    config = SimConfig(
        names=("node01", "node02"), base_address="127.24.0.1", port=0, kerberos_keytab=shared_keytab
    )
    with kdc.applied_env(), fleet_in_thread(config) as running:
        yield running


def _target(fleet: ThreadedFleet, name: str, *, address_of: str | None = None) -> Target:
    host = next(h for h in fleet.hosts if h.name == (address_of or name))
    return Target(name, host.address, host.port)


def test_hosts_accept_with_their_own_keys_once_started(
    fleet: ThreadedFleet, shared_keytab: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shared keytab is read at start only: without it, each host still has its keys.
    shared_keytab.unlink()
    monkeypatch.setenv("KRB5_KTNAME", f"FILE:{shared_keytab}")
    result = psfleet.run(
        [_target(fleet, "node01"), _target(fleet, "node02")],
        "$env:COMPUTERNAME",
        auth="kerberos",
        credential="kerberos",
    )
    assert {name: h.status for name, h in result.hosts.items()} == {
        "node01": psfleet.HostStatus.OK,
        "node02": psfleet.HostStatus.OK,
    }
    assert result.hosts["node02"].output == ["NODE02"]


def test_a_ticket_for_another_host_is_refused(fleet: ThreadedFleet) -> None:
    # A ticket for HTTP/node02 presented at node01 (a stale DNS record, say): node01 has
    # only its own keys, so it cannot decrypt it, as a Windows host would not.
    before = fleet.stats("node01")["auth_failures"]
    result = psfleet.run(
        [_target(fleet, "node02", address_of="node01")],
        "$env:COMPUTERNAME",
        auth="kerberos",
        credential="kerberos",
    )
    assert result.hosts["node02"].status is psfleet.HostStatus.AUTH_FAILED
    assert fleet.stats("node01")["auth_failures"] == before + 1


@pytest.mark.parametrize("auth", ["kerberos", "negotiate"])
def test_pypsrp_with_a_password_gets_in_with_kerberos(
    fleet: ThreadedFleet, kdc: MitKdc, auth: str
) -> None:
    host = fleet.hosts[0]
    client = Client(
        host.address,
        port=host.port,
        username=kdc.principal,
        password=kdc.password,
        ssl=False,
        auth=auth,
        negotiate_hostname_override=host.name,
        negotiate_service="HTTP",
    )
    output, _, had_errors = client.execute_ps("$env:COMPUTERNAME")
    assert not had_errors
    assert output == "NODE01"


def test_pypsrp_negotiate_without_a_ticket_falls_back_to_ntlm(fleet: ThreadedFleet) -> None:
    # No SPN for the address pypsrp names: its Negotiate offers NTLM alone, which a host
    # with a keytab accepts as before.
    host = fleet.hosts[1]
    client = Client(
        host.address,
        port=host.port,
        username=DEMO_USER,
        password=DEMO_PASSWORD,
        ssl=False,
        auth="negotiate",
    )
    output, _, had_errors = client.execute_ps("$env:COMPUTERNAME")
    assert not had_errors
    assert output == "NODE02"


def test_pywinrm_ntlm_still_gets_in(fleet: ThreadedFleet) -> None:
    host = fleet.hosts[0]
    session = winrm.Session(
        f"http://{host.address}:{host.port}/wsman",
        auth=(DEMO_USER, DEMO_PASSWORD),
        transport="ntlm",
    )
    response = session.run_ps("$env:COMPUTERNAME")
    assert response.status_code == 0
    assert response.std_out.decode().strip() == "NODE01"

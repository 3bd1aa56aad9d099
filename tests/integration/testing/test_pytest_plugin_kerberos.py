"""The plugin's `mit_kdc` fixture with `simfleet(kdc=...)`: Kerberos and its double hop."""

from __future__ import annotations

import pytest

import psfleet
from psfleet.testing.kdc import MitKdc
from psfleet.testing.pytest_plugin import SimFleetStarter

pytestmark = pytest.mark.kerberos
SECOND_HOP = "Invoke-Command -ComputerName node02 { $env:COMPUTERNAME }"


@pytest.mark.parametrize(
    ("subprocess", "base_address"),
    [(False, "127.21.5.1"), (True, "127.21.6.1")],
    ids=["thread", "subprocess"],
)
def test_a_forwarded_ticket_makes_the_second_hop_and_a_plain_one_does_not(
    simfleet: SimFleetStarter, mit_kdc: MitKdc, subprocess: bool, base_address: str
) -> None:
    lab = simfleet(hosts=2, kdc=mit_kdc, subprocess=subprocess, base_address=base_address)
    assert {"node01", "node02"} <= mit_kdc.hosts

    def hop(delegate: bool) -> psfleet.HostResult:
        result = psfleet.run(
            ["node01"],
            SECOND_HOP,
            inventory=lab.inventory,
            auth="kerberos",
            credential="kerberos",
            delegate=delegate,
        )
        return result.hosts["node01"]

    delegated = hop(delegate=True)
    assert delegated.status is psfleet.HostStatus.OK, delegated.error_message
    assert delegated.output == ["NODE02"]
    assert hop(delegate=False).status is psfleet.HostStatus.DOUBLE_HOP_DENIED
    assert lab.stats("node01")["auth_failures"] == 0

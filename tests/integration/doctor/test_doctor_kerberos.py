"""The second hop under Kerberos, against a real MIT KDC: reached only with --delegate."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from psfleet.testing.kdc import MitKdc, available

from .conftest import FleetFactory, doctor_on

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]


@pytest.fixture(scope="module")
def kdc() -> Iterator[MitKdc]:
    if not available():
        pytest.skip("KERBEROS DOCTOR TESTS NOT RUN: the MIT KDC packages are missing")
    with MitKdc(hosts=("node01", "node02")) as server:
        server.kinit()
        yield server


@pytest.fixture(autouse=True)
def kerberos_env(kdc: MitKdc) -> Iterator[MitKdc]:
    with kdc.applied_env():
        yield kdc


@pytest.mark.parametrize(
    ("delegate", "outcome"),
    [(True, "kerberos: reached NODE02"), (False, "kerberos: double hop denied")],
)
async def test_kerberos_reaches_the_second_hop_only_with_delegate(
    fleet_factory: FleetFactory, delegate: bool, outcome: str
) -> None:
    fleet = await fleet_factory(port=5985, hosts=2)
    report = await doctor_on(
        fleet,
        "node01",
        auth="kerberos",
        credential="kerberos",
        delegate=delegate,
        second_hop="node02",
    )
    assert report.check("credentials").ok, report.checks
    hop = report.check("second_hop")
    assert hop.ok is delegate and outcome in hop.detail
    assert "ntlm: not tried: NTLM needs -u and a password" in hop.detail

"""The kdc check against a real MIT KDC (realm LAB.TEST): a ticket and its time, a wrong
password tried once and no more, the user's ticket cache with and without a TGT.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from psfleet.testing.kdc import MitKdc, available
from tests.support.fleets import fleet_starter

from .conftest import PATIENT, FleetFactory, doctor_on

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]

USER = "admin@LAB.TEST"


@pytest.fixture(scope="module")
def kdc() -> Iterator[MitKdc]:
    if not available():
        pytest.skip("KERBEROS DOCTOR TESTS NOT RUN: the MIT KDC packages are missing")
    with MitKdc(hosts=("node01",)) as server:
        server.kinit()
        yield server


@pytest.fixture(autouse=True)
def kerberos_env(kdc: MitKdc) -> Iterator[MitKdc]:
    with kdc.applied_env():
        yield kdc


def bad_password_attempts(kdc: MitKdc, since: int) -> int:
    """Wrong passwords the KDC counted (toward a lockout) since byte `since` of its log."""
    return sum("PREAUTH_FAILED" in line for line in kdc.log_lines(since))


@pytest.mark.parametrize("method", ["negotiate", "kerberos"])
async def test_a_kdc_that_answers_gives_a_ticket_and_its_time(
    fleet_factory: FleetFactory, kdc: MitKdc, method: str
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth=method, credential=(USER, kdc.password))
    check = report.checks[0]
    assert check.name == "kdc" and check.status == "passed", check
    assert check.detail.startswith(f"a KDC for LAB.TEST answered in {check.facts['elapsed_ms']} ms")
    assert check.facts["kdc_answered"] is True and check.facts["verdict"] == "accepted"
    assert check.facts["realm"] == "LAB.TEST" and check.facts["negotiate_uses"] == "kerberos"
    elapsed_ms = check.facts["elapsed_ms"]
    assert isinstance(elapsed_ms, int) and 0 <= elapsed_ms < 5000
    assert ("Negotiate will use Kerberos" in check.detail) is (method == "negotiate")
    assert report.ok, report.checks


@pytest.mark.parametrize("method", ["negotiate", "kerberos"])
async def test_a_wrong_password_is_rejected_once_and_not_presented_again(
    fleet_factory: FleetFactory, kdc: MitKdc, method: str
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    since = kdc.log_size()
    report = await doctor_on(fleet, "node01", auth=method, credential=(USER, "Not-The-Passw0rd"))
    assert bad_password_attempts(kdc, since) == 1
    check = report.check("kdc")
    assert check.status == "failed" and check.facts["verdict"] == "rejected"
    assert check.facts["kdc_answered"] is True and check.facts["negotiate_uses"] is None
    assert "rejected admin@LAB.TEST" in check.detail and "Not-The-Passw0rd" not in check.detail
    assert check.remedy is not None and "presented the password once" in check.remedy
    for name in ("credentials", "quota"):
        assert report.check(name).status == "skipped"


@pytest.mark.parametrize("method", ["negotiate", "kerberos"])
async def test_the_ticket_cache_holds_a_tgt_for_the_realm(
    fleet_factory: FleetFactory, method: str
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth=method, credential="kerberos")
    check = report.check("kdc")
    assert check.status == "passed", check
    assert f"holds a TGT for {USER} (realm LAB.TEST)" in check.detail
    assert check.facts["principal"] == USER and check.facts["realm"] == "LAB.TEST"
    lifetime = check.facts["lifetime_s"]
    assert isinstance(lifetime, int) and lifetime > 0
    assert report.ok, report.checks


async def test_a_kdc_that_stops_answering_is_waited_for_connect_timeout(
    fleet_factory: FleetFactory, kdc: MitKdc
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    one_second = dataclasses.replace(PATIENT, connect=1.0)
    kdc.pause()  # the kernel still accepts its TCP connections; nothing answers them
    try:
        with anyio.fail_after(10):  # MIT alone would retry for much longer
            report = await doctor_on(
                fleet,
                "node01",
                auth="kerberos",
                credential=(USER, kdc.password),
                timeouts=one_second,
            )
    finally:
        kdc.resume()
    check = report.check("kdc")
    assert check.status == "failed", check
    assert "no KDC for realm LAB.TEST answered: no answer within 1s" in check.detail
    assert check.remedy is not None and "krb5.conf" in check.remedy
    assert report.check("credentials").status == "skipped"


async def test_negotiate_waits_for_a_silent_kdc_once_then_logs_in_with_ntlm(
    kdc: MitKdc, tmp_path: Path
) -> None:
    connect = 3.0
    timeouts = dataclasses.replace(PATIENT, connect=connect)
    users = tmp_path / "users"
    users.write_text(f"LAB.TEST\\admin:{kdc.password}\n")  # the same account for NTLM
    async with fleet_starter(iter(["127.24.40.1"]), hosts=1, port=5985) as start:
        fleet = await start(users_file=users, domain="LAB.TEST")
        kdc.pause()  # the kernel still accepts its TCP connections; nothing answers them
        try:
            started = time.monotonic()
            report = await doctor_on(
                fleet,
                "node01",
                auth="negotiate",
                credential=(USER, kdc.password),
                timeouts=timeouts,
            )
            elapsed = time.monotonic() - started
        finally:
            kdc.resume()
    check = report.check("kdc")
    assert check.status == "passed" and "Negotiate will use NTLM" in check.detail, check
    assert report.check("credentials").status == "passed", report.checks
    # The kdc check's wait alone; the logins after it do not wait for the KDC a second time.
    assert connect <= elapsed < 2 * connect, elapsed


async def test_an_empty_ticket_cache_fails_with_kinit_and_skips_the_login(
    fleet_factory: FleetFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'no-ccache'}")
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth="kerberos", credential="kerberos")
    check = report.check("kdc")
    assert check.status == "failed"
    assert "No Kerberos credentials available" in check.detail and "no-ccache" in check.detail
    assert check.remedy is not None and "kinit" in check.remedy
    assert report.check("credentials").status == "skipped"

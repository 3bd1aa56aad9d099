"""The kdc check on a machine with no KDC for the user's realm (no KDC packages needed).

A krb5.conf like Debian's default (a default realm, no LAB realm) and one whose LAB
realm names a KDC that never answers: Negotiate falls back to NTLM, Kerberos fails
with a remedy, and the wait stays within the deadline, off the event loop.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from psfleet.loopwatch import watch_loop
from psfleet.transport.options import Timeouts

from .conftest import NO_LAB_REALM, PATIENT, FleetFactory, doctor_on

pytestmark = pytest.mark.anyio

ONE_SECOND = Timeouts(connect=1.0, request=15.0, operation=5.0, close=5.0)


def use_krb5_conf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    conf = tmp_path / "krb5.conf"
    conf.write_text(text)
    monkeypatch.setenv("KRB5_CONFIG", str(conf))
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'ccache'}")  # no user's ticket


@pytest.fixture
def no_lab_realm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    use_krb5_conf(monkeypatch, tmp_path, NO_LAB_REALM)


@pytest.fixture
def silent_kdc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Realm LAB's KDC is a UDP socket that reads nothing and answers nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        realm = f"[realms]\n    LAB = {{\n        kdc = 127.0.0.1:{port}\n    }}\n"
        use_krb5_conf(monkeypatch, tmp_path, NO_LAB_REALM.replace("[realms]\n", realm))
        yield


@pytest.mark.usefixtures("no_lab_realm")
async def test_negotiate_without_a_kdc_for_the_realm_says_it_will_use_ntlm(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth="negotiate")
    kdc = report.checks[0]
    assert kdc.name == "kdc" and kdc.status == "passed", kdc
    assert "Cannot find KDC for realm" in kdc.detail and "LAB" in kdc.detail
    assert "Negotiate will use NTLM" in kdc.detail
    assert kdc.facts["realm"] == "LAB" and kdc.facts["principal"] == "admin@LAB"
    assert kdc.facts["kdc_answered"] is False and kdc.facts["negotiate_uses"] == "ntlm"
    assert kdc.facts["verdict"] == "unreachable"
    # And so it does: the host accepts the NTLM login.
    assert report.ok, report.checks
    assert "accepted" in report.check("credentials").detail


@pytest.mark.usefixtures("no_lab_realm")
async def test_kerberos_without_a_kdc_fails_with_a_remedy_and_skips_the_login(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth="kerberos")
    kdc = report.check("kdc")
    assert kdc.status == "failed" and kdc.facts["negotiate_uses"] is None
    assert kdc.remedy is not None
    for advice in ("krb5.conf", "[realms] LAB", "_kerberos._tcp.lab", "--auth negotiate", "ntlm"):
        assert advice in kdc.remedy
    # The host is fine; the login that cannot work is not tried, and says why.
    assert [c.status for c in report.checks[1:6]] == ["passed"] * 5
    for name in ("credentials", "quota"):
        check = report.check(name)
        assert check.status == "skipped" and check.detail == "skipped: kdc failed"


@pytest.mark.usefixtures("silent_kdc")
@pytest.mark.parametrize(("method", "status"), [("kerberos", "failed"), ("negotiate", "passed")])
async def test_a_kdc_that_never_answers_is_waited_for_connect_timeout_off_the_loop(
    fleet_factory: FleetFactory, method: str, status: str
) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    started = time.monotonic()
    async with watch_loop() as watchdog:
        report = await doctor_on(fleet, "node01", auth=method, timeouts=ONE_SECOND)
    elapsed = time.monotonic() - started
    kdc = report.check("kdc")
    assert kdc.status == status, kdc
    assert "no KDC for realm LAB answered: no answer within 1s" in kdc.detail
    assert kdc.facts["elapsed_ms"] == 1000 and kdc.facts["kdc_answered"] is False
    # MIT's own retries take 18 s here: the deadline, not the library, ended the wait
    # (negotiate's login waits once more, in the broker, before it uses NTLM).
    assert elapsed < 10, elapsed
    assert watchdog.longest_stall < 1.0, watchdog.stalled_stack
    if method == "negotiate":
        assert "Negotiate will use NTLM" in kdc.detail
        assert report.ok, report.checks
    else:
        assert report.check("credentials").status == "skipped"


async def test_ntlm_has_no_kdc_row(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985, hosts=1)
    report = await doctor_on(fleet, "node01", auth="ntlm", timeouts=PATIENT)
    assert [c.name for c in report.checks][:2] == ["resolve", "tcp"]
    assert "kdc" not in [c.name for c in report.checks]

"""diagnose() on simulated hosts: each failure is found by the right check, with its remedy."""

from __future__ import annotations

import pytest

from psfleet.doctor import DoctorReport, diagnose
from psfleet.simfleet import Quotas, SimFleet
from psfleet.transport.options import Endpoint

from .conftest import FAST, PASSWORD, USER, FleetFactory, doctor_on, options

pytestmark = pytest.mark.anyio

ALL_CHECKS = ["resolve", "tcp", "tls", "listener", "auth_offered", "credentials", "quota"]


def names(report: DoctorReport) -> list[str]:
    return [check.name for check in report.checks]


def assert_skipped_after(report: DoctorReport, failed: str) -> None:
    later = names(report)[names(report).index(failed) + 1 :]
    for name in later:
        check = report.check(name)
        assert not check.ok and check.detail == f"skipped: {failed} failed", check


def assert_nothing_open(fleet: SimFleet) -> None:
    assert fleet.stats()["shells_open"] == 0


async def test_a_healthy_host_passes_every_check(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01")
    assert names(report) == ALL_CHECKS
    assert report.ok, report.checks
    assert "OS: 10.0." in report.check("listener").detail
    assert "wsman.xsd" in report.check("listener").detail
    assert "Negotiate" in report.check("auth_offered").detail
    assert all(check.remedy is None for check in report.checks)
    assert_nothing_open(fleet)


async def test_wrong_password_fails_the_credentials_check_after_one_login(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", credential=(USER, "not-the-password"))
    credentials = report.check("credentials")
    assert not credentials.ok and "rejected" in credentials.detail
    assert credentials.remedy is not None and "password" in credentials.remedy
    assert report.check("listener").ok and report.check("auth_offered").ok
    assert_skipped_after(report, "credentials")
    # The listener's login failure is reused: a wrong password is sent once, not twice.
    assert fleet.stats("node01")["hosts"]["node01"]["auth_failures"] == 1
    assert "not-the-password" not in repr(report.as_json())


async def test_a_user_without_domain_gets_the_workgroup_advice(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", credential=("admin", "wrong"))
    remedy = report.check("credentials").remedy or ""
    assert "node01\\admin" in remedy and "TrustedHosts" in remedy and "--ssl" in remedy


async def test_a_refused_port_fails_tcp_with_enable_psremoting(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985, faults="refuse:node03")
    report = await doctor_on(fleet, "node03")
    tcp = report.check("tcp")
    assert report.check("resolve").ok
    assert not tcp.ok and "refused" in tcp.detail.lower()
    assert tcp.remedy is not None
    assert "Enable-PSRemoting -Force" in tcp.remedy
    assert "Windows Remote Management (HTTP-In)" in tcp.remedy
    assert_skipped_after(report, "tcp")


async def test_a_silent_port_fails_the_listener_check(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985, faults="blackhole:node02")
    report = await doctor_on(fleet, "node02", timeouts=FAST)
    assert report.check("tcp").ok
    listener = report.check("listener")
    assert not listener.ok and "Restart-Service WinRM" in (listener.remedy or "")
    assert_skipped_after(report, "listener")


async def test_an_unknown_name_fails_resolve() -> None:
    endpoint = Endpoint("no-such-host.invalid", port=5985)
    report = await diagnose(endpoint, options())
    resolve = report.check("resolve")
    assert not resolve.ok and "ansible_host" in (resolve.remedy or "")
    assert_skipped_after(report, "resolve")


async def test_https_verified_with_the_ca_file(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5986, tls=True)
    report = await doctor_on(fleet, "node01", auth="basic", ca_file=fleet.ca_file)
    assert report.ok, report.checks
    tls = report.check("tls")
    assert "verified against" in tls.detail and "psfleet simfleet CA" in tls.detail
    assert "node01.lab.test" in tls.detail and "expires" in tls.detail
    assert_nothing_open(fleet)


async def test_https_without_the_ca_file_fails_tls_with_the_ca_remedy(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5986, tls=True)
    report = await doctor_on(fleet, "node01", auth="basic")
    tls = report.check("tls")
    assert not tls.ok and "CN=psfleet simfleet CA" in tls.detail
    assert tls.remedy is not None and "--ca-file" in tls.remedy
    assert_skipped_after(report, "tls")


async def test_https_by_a_name_not_in_the_certificate_fails_tls_with_the_names(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5986, tls=True)
    report = await doctor_on(fleet, "node01", as_name="web01", auth="basic", ca_file=fleet.ca_file)
    tls = report.check("tls")
    assert not tls.ok and "web01" in tls.detail
    assert tls.remedy is not None
    assert "node01.lab.test" in tls.remedy and "Hostname=" in tls.remedy
    assert_skipped_after(report, "tls")


async def test_tls_to_the_http_port_says_it_is_not_tls(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985)
    host = fleet.host("node01")
    endpoint = Endpoint(host.name, address=host.address, port=5985, tls=True)
    report = await diagnose(endpoint, options(auth="basic"))
    assert "drop --ssl" in (report.check("tls").remedy or "")


async def test_credssp_not_enabled_fails_auth_offered(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985, credssp_off=("node02",))
    report = await doctor_on(fleet, "node02", auth="credssp", delegate_to=["node02"])
    offered = report.check("auth_offered")
    assert not offered.ok and "CredSSP" in offered.detail
    assert offered.remedy is not None
    assert "Enable-WSManCredSSP -Role Server" in offered.remedy
    assert "Enable-WSManCredSSP -Role Client -DelegateComputer node02" in offered.remedy
    assert_skipped_after(report, "auth_offered")


async def test_credssp_outside_the_allowlist_sends_nothing(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", auth="credssp")
    credentials = report.check("credentials")
    assert not credentials.ok and "nothing was sent" in credentials.detail
    assert "--delegate-to node01" in (credentials.remedy or "")
    assert fleet.stats("node01")["hosts"]["node01"]["auth_failures"] == 0


async def test_a_used_up_quota_passes_credentials_and_fails_quota(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985, quotas=Quotas(max_shells_per_user=0))
    report = await doctor_on(fleet, "node01")
    assert report.check("credentials").ok
    quota = report.check("quota")
    assert not quota.ok and "MaxShellsPerUser" in (quota.remedy or "")
    assert "winrm set winrm/config/winrs" in (quota.remedy or "")


async def test_second_hop_under_ntlm_is_denied_with_the_remedy(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", second_hop="node02")
    hop = report.check("second_hop")
    assert not hop.ok
    assert "ntlm: double hop denied" in hop.detail
    assert "credssp: not tried: CredSSP needs --delegate-to node01" in hop.detail
    assert "kerberos: not tried" in hop.detail
    assert hop.remedy is not None and "Enable-WSManCredSSP -Role Server" in hop.remedy
    assert [c.name for c in report.checks if not c.ok] == ["second_hop"]
    assert_nothing_open(fleet)


async def test_second_hop_with_credssp_and_delegate_to_is_reached(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(
        fleet, "node01", auth="credssp", delegate_to=["node01"], second_hop="node02"
    )
    assert report.ok, report.checks
    hop = report.check("second_hop")
    assert "credssp: reached NODE02" in hop.detail
    assert "ntlm: double hop denied" in hop.detail
    assert PASSWORD not in repr(report.as_json())
    assert_nothing_open(fleet)


async def test_second_hop_suggests_credssp_when_it_works_and_ntlm_was_chosen(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", delegate_to=["node01"], second_hop="node02")
    hop = report.check("second_hop")
    assert not hop.ok and "credssp: reached NODE02" in hop.detail
    assert (hop.remedy or "").startswith("--auth credssp --delegate-to node01 reaches node02")


async def test_second_hop_not_offered_credssp_is_not_tried(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(port=5985, credssp_off=("node01",))
    report = await doctor_on(fleet, "node01", delegate_to=["node01"], second_hop="node02")
    hop = report.check("second_hop")
    assert "credssp: not tried: node01 does not offer CredSSP" in hop.detail


async def test_second_hop_to_an_unknown_host_is_not_called_a_double_hop(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(port=5985)
    report = await doctor_on(fleet, "node01", second_hop="nowhere")
    hop = report.check("second_hop")
    assert not hop.ok and "ntlm: failed:" in hop.detail
    assert "Test-WSMan nowhere" in (hop.remedy or "")

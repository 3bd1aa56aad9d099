"""A fan-out with each auth method, with faults, under the loop watchdog of this directory."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus

pytestmark = pytest.mark.anyio
FAULTS = "refuse:node02,blackhole:node03"


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "credssp", "basic", "certificate"])
async def test_each_method_fans_out_without_blocking_the_loop(
    fleet_factory: Any, targets_of: Any, run_settings: Any, auth: str
) -> None:
    tls = auth in ("basic", "certificate")
    fleet = await fleet_factory(hosts=24, faults=FAULTS, tls=tls)
    settings = run_settings(auth=auth, tls=tls, host_timeout=4.0, retries=0)
    if tls:
        settings["ca_file"] = fleet.ca_file
    if auth == "credssp":
        settings["delegate_to"] = ["node*"]
    if auth == "certificate":
        settings["client_cert"], settings["client_key"] = fleet.issue_client_certificate()
        settings["credential"] = None
    result = await psfleet.arun(targets_of(fleet), "$env:COMPUTERNAME", **settings)
    statuses = {name: host.status for name, host in result.hosts.items()}
    assert statuses.pop("node02") is HostStatus.UNREACHABLE
    # A blackholed host never answers: over TLS the handshake's connect timeout says so.
    assert statuses.pop("node03") is (HostStatus.UNREACHABLE if tls else HostStatus.TIMEOUT)
    assert Counter(statuses.values()) == {HostStatus.OK: 22}
    assert max(h.duration_s for h in result.hosts.values()) <= 4.0 + 1.0
    assert fleet.stats()["shells_open"] == 0

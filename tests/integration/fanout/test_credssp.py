"""CredSSP: only allow-listed hosts get credentials, the others get nothing, remedies are named."""

from __future__ import annotations

from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus

pytestmark = pytest.mark.anyio
TEST_CLUSTER = "Test-Cluster | Select-Object -ExpandProperty Name"


async def test_allow_listed_credssp_makes_the_second_hop(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=3, cluster="CLUSTER01")
    result = await psfleet.arun(
        targets_of(fleet), TEST_CLUSTER, **run_settings(auth="credssp", delegate_to=["node*"])
    )
    assert all(h.status is HostStatus.OK for h in result), [h.error_message for h in result]
    report = result.hosts["node02"].output
    assert len(report) == 1 and str(report[0]).startswith("Validation Report")


async def test_hosts_outside_the_allowlist_get_nothing(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=3, cluster="CLUSTER01")
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(auth="credssp", delegate_to=["node01"])
    )
    assert result.hosts["node01"].status is HostStatus.OK
    for name in ("node02", "node03"):
        refused = result.hosts[name]
        assert refused.status is HostStatus.AUTH_FAILED
        assert refused.error_type == "DelegationRefused"
        assert "allowlist" in (refused.error_message or "") and "node01" in (
            refused.error_message or ""
        )
        assert refused.attempts == 1
        assert fleet.stats(name)["requests"] == 0  # not one byte was sent to it


async def test_allowlist_matches_names_never_addresses(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1)
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(auth="credssp", delegate_to=["127.*"])
    )
    assert result.hosts["node01"].status is HostStatus.AUTH_FAILED
    assert fleet.stats("node01")["requests"] == 0


async def test_no_allowlist_means_no_credssp(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1)
    result = await psfleet.arun(targets_of(fleet), "hostname", **run_settings(auth="credssp"))
    assert result.hosts["node01"].error_type == "DelegationRefused"
    assert fleet.stats("node01")["requests"] == 0


async def test_a_host_without_credssp_enabled_is_named_with_the_server_remedy(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=2, credssp_off=("node02",))
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(auth="credssp", delegate_to=["node*"])
    )
    assert result.hosts["node01"].status is HostStatus.OK
    off = result.hosts["node02"]
    assert off.status is HostStatus.AUTH_FAILED
    assert "does not offer CredSSP" in (off.error_message or "")
    assert off.remedy is not None and "Enable-WSManCredSSP -Role Server" in off.remedy
    assert "wrong" not in (off.error_message or "").lower()

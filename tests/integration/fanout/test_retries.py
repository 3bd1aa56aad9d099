"""Retries happen only while no command may have run; --retry-started opts in to re-running."""

from __future__ import annotations

from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus

pytestmark = pytest.mark.anyio


async def test_a_started_command_is_never_run_twice(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=2, faults="drop:node01")
    result = await psfleet.arun(targets_of(fleet), "hostname", **run_settings(retries=3))
    dropped = result.hosts["node01"]
    assert dropped.status is HostStatus.UNREACHABLE and dropped.attempts == 1
    assert fleet.stats("node01")["executions"] == 1
    assert result.hosts["node02"].status is HostStatus.OK
    assert fleet.stats()["shells_open"] == 0


async def test_retry_started_reruns_idempotent_commands(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1, faults="drop:node01")
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(retries=2, retry_started=True)
    )
    assert result.hosts["node01"].attempts == 3
    assert fleet.stats("node01")["executions"] == 3


async def test_failures_before_the_command_are_retried_and_run_once(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1, faults="http503:node01@2")
    result = await psfleet.arun(targets_of(fleet), "hostname", **run_settings(retries=3))
    host = result.hosts["node01"]
    assert host.status is HostStatus.OK and host.attempts == 3
    assert host.output == ["NODE01"]
    assert fleet.stats("node01")["executions"] == 1


async def test_auth_failures_are_not_retried(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=1)
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(credential=("LAB\\admin", "wrong"))
    )
    assert result.hosts["node01"].status is HostStatus.AUTH_FAILED
    assert result.hosts["node01"].attempts == 1
    assert "wrong" not in repr(result) and "wrong" not in str(result.hosts["node01"].error_message)


async def test_a_flapping_host_is_retried_until_it_is_back(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=2, faults="flap:node01@1")
    result = await psfleet.arun(targets_of(fleet), "hostname", **run_settings(retries=4))
    flapping = result.hosts["node01"]
    assert flapping.status is HostStatus.OK and flapping.attempts > 1
    assert fleet.stats("node01")["executions"] == 1
    assert result.hosts["node02"].attempts == 1

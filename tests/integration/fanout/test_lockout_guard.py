"""The lockout guard: a bad password is presented to a few hosts, never to the whole fleet."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import psfleet
from psfleet.events import HostDone, HostStatus, RunSummary

pytestmark = pytest.mark.anyio
WRONG = ("LAB\\admin", "not-the-password")


class Recorder:
    def __init__(self) -> None:
        self.done: list[HostDone] = []
        self.summary: RunSummary | None = None

    async def handle(self, event: object) -> None:
        if isinstance(event, HostDone):
            self.done.append(event)
        if isinstance(event, RunSummary):
            self.summary = event


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
async def test_a_wrong_password_is_tried_on_max_auth_failures_hosts_only(
    fleet_factory: Any, targets_of: Any, run_settings: Any, auth: str
) -> None:
    fleet = await fleet_factory(hosts=40)
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(auth=auth, credential=WRONG, throttle=40)
    )
    statuses = Counter(h.status for h in result.hosts.values())
    assert statuses == {HostStatus.AUTH_FAILED: 40}
    withheld = [h for h in result.hosts.values() if h.error_type == "CredentialWithheld"]
    tried = [h for h in result.hosts.values() if h.error_type != "CredentialWithheld"]
    assert len(tried) == 3 and len(withheld) == 37
    assert all(
        h.error_message == "not tried: credential rejected 3 times (lockout guard)"
        for h in withheld
    )
    assert all(h.remedy and "password" in h.remedy for h in result.hosts.values())
    # The simulated domain saw exactly three bad logons, one per host tried.
    assert fleet.stats()["auth_failures"] == 3
    assert sorted(n for n, s in fleet.stats()["hosts"].items() if s["auth_failures"]) == sorted(
        h.host for h in tried
    )
    assert "not-the-password" not in repr(result)


async def test_max_auth_failures_sets_how_many_hosts_may_reject_it(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=10)
    result = await psfleet.arun(
        targets_of(fleet), "hostname", **run_settings(credential=WRONG, max_auth_failures=1)
    )
    assert fleet.stats()["auth_failures"] == 1
    assert sum(h.error_type == "CredentialWithheld" for h in result.hosts.values()) == 9


async def test_until_accepted_one_handshake_presents_the_credential_at_a_time(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    # 200 ms per request: if 32 hosts presented a wrong password at once, all 32 would be
    # rejected before the first answer came back.
    fleet = await fleet_factory(hosts=32, rtt_ms=200)
    recorder = Recorder()
    await psfleet.arun(
        targets_of(fleet), "hostname", sinks=[recorder], **run_settings(credential=WRONG)
    )
    assert fleet.stats()["auth_failures"] == 3
    assert len(recorder.done) == 32
    assert recorder.summary is not None and recorder.summary.spared_by_lockout_guard == 29

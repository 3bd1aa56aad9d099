"""Every host of a fan-out authenticates through the run's one credential broker.

With the default auth (negotiate) and no KDC for LAB on this machine, a broker asks krb5
for the realm's KDC once and then uses NTLM, and says so once. A HostTransport used to
make a broker of its own when the options carried none, so a fan-out that forgot the
run's broker asked once per host (seconds each), silently. Now it cannot start at all.
On 127.41.1.x.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from psfleet.events import Event, HostStatus
from psfleet.fanout.api import build_options
from psfleet.fanout.executor import FanOut, LocalExecutor
from psfleet.fanout.options import RunOptions
from psfleet.fanout.scheduler import Scheduler
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from tests.support.fleets import fleet_starter

pytestmark = pytest.mark.anyio

HOSTS = 12
SCRIPT = "$env:COMPUTERNAME"
FALLBACK = "negotiate uses NTLM"


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    async with fleet_starter(iter(["127.41.1.1"]), hosts=HOSTS, port=0) as start:
        yield await start()


def targets_of(fleet: SimFleet) -> list[Target]:
    return [Target(h.name, h.address, h.port) for h in fleet.hosts]


def negotiate_options() -> RunOptions:
    options = build_options(None, {"credential": ("LAB\\admin", "psfleet-demo")})
    assert options.client.auth.method.value == "negotiate"  # the default, as a user runs it
    assert options.client.auth.broker is None  # as the caller gives them
    return options


async def ignore(event: Event) -> None:
    pass


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if FALLBACK in str(r.msg)]


async def test_a_fan_out_given_no_broker_stops_before_asking_any_host_or_kdc(
    fleet: SimFleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="psfleet")
    # The scheduler as a new fan-out path would build it, skipping the executor's broker.
    scheduler = Scheduler(targets_of(fleet), [SCRIPT], negotiate_options(), ignore)
    result = await scheduler.run()
    assert len(result.hosts) == HOSTS
    for host in result.hosts.values():  # a bug of ours, reported on every host
        assert host.status is HostStatus.FAILED
        assert host.error_type == "ValueError"
        assert "needs the run's CredentialBroker" in (host.error_message or "")
    assert fallbacks(caplog) == []  # no KDC lookup, let alone one per host
    assert fleet.stats()["requests"] == 0


async def test_the_local_executor_gives_every_host_the_runs_one_broker(
    fleet: SimFleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="psfleet")
    fanout = FanOut(targets_of(fleet), [SCRIPT], [], negotiate_options())
    result = await LocalExecutor().runner(fanout, ignore).run()
    assert {h.status for h in result.hosts.values()} == {HostStatus.OK}
    assert len(result.hosts) == HOSTS
    assert len(fallbacks(caplog)) == 1, fallbacks(caplog)

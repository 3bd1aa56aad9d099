"""Kerberos at fleet scale, real MIT KDC: one TGT per run, a KDC that stops, a bad password.

The KDC's own log counts the requests: an AS exchange is one `AS_REQ` that ends in
ISSUE or an error (the first `NEEDED_PREAUTH` answer is part of the same exchange).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

import psfleet
from psfleet.events import HostDone, HostStatus
from psfleet.loopwatch import watch_loop
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.targets.model import Target
from psfleet.testing.kdc import MitKdc
from psfleet.transport import kerberos
from psfleet.transport.options import Timeouts

pytestmark = pytest.mark.anyio
HOSTS = tuple(f"node{n:02d}" for n in range(1, 51))
SECOND_HOP = "Invoke-Command -ComputerName node02 { $env:COMPUTERNAME }"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def fleet_kdc(kdc: MitKdc) -> Iterator[MitKdc]:
    kdc.add_hosts(HOSTS)
    yield kdc


@pytest.fixture
async def fleet(fleet_kdc: MitKdc) -> AsyncIterator[SimFleet]:
    config = SimConfig(
        names=HOSTS,
        cluster="CLUSTER01",
        base_address="127.4.3.1",
        port=5985,
        kerberos_keytab=fleet_kdc.keytab,
    )
    async with SimFleet(config) as running:
        yield running


def targets(fleet: SimFleet) -> list[Target]:
    return [Target(h.name, h.address, h.port) for h in fleet.hosts]


_users = itertools.count(1)


@pytest.fixture
def user(fleet_kdc: MitKdc) -> tuple[str, str]:
    """A principal of this test only (its KDC log lines are its own), locked after 3 bad
    passwords as a domain's policy would."""
    principal = f"fan{next(_users)}@{fleet_kdc.realm}"
    password = "Fan-Passw0rd!"
    fleet_kdc.add_user(principal, password, lockout_threshold=3)
    return principal, password


def as_exchanges(lines: list[str], principal: str) -> list[str]:
    """AS exchanges: the NEEDED_PREAUTH answer that opens each one is not counted."""
    return [
        line
        for line in lines
        if "AS_REQ" in line and f" {principal} for krbtgt" in line and "NEEDED_PREAUTH" not in line
    ]


def tgs_requests(lines: list[str], principal: str) -> list[str]:
    return [line for line in lines if "TGS_REQ" in line and f" {principal} for HTTP/" in line]


async def logged(kdc: MitKdc, start: int, count: Callable[[list[str]], int], expected: int) -> int:
    """krb5kdc logs a request just after it answers: wait (bounded) for the lines to land."""
    with anyio.move_on_after(5):
        # A file written by another process: nothing to wait on but the file itself.
        while count(kdc.log_lines(start)) < expected:  # noqa: ASYNC110
            await anyio.sleep(0.05)
    return count(kdc.log_lines(start))


@pytest.mark.parametrize("auth", ["kerberos", "negotiate"])
async def test_one_as_exchange_serves_a_50_host_fan_out(
    fleet: SimFleet, fleet_kdc: MitKdc, user: tuple[str, str], auth: str
) -> None:
    principal, _ = user
    start = fleet_kdc.log_size()
    async with watch_loop() as watchdog:
        result = await psfleet.arun(
            targets(fleet), "hostname", auth=auth, credential=user, throttle=50
        )
    assert Counter(h.status for h in result.hosts.values()) == {HostStatus.OK: 50}
    # one service ticket per host: Kerberos was used, with one TGT
    assert (
        await logged(fleet_kdc, start, lambda lines: len(tgs_requests(lines, principal)), 50) == 50
    )
    assert len(as_exchanges(fleet_kdc.log_lines(start), principal)) == 1
    assert watchdog.longest_stall < 1.0, watchdog.stalled_stack
    assert fleet.stats()["shells_open"] == 0


async def test_a_wrong_password_is_refused_by_the_kdc_once_and_no_host_is_tried(
    fleet: SimFleet, fleet_kdc: MitKdc, user: tuple[str, str]
) -> None:
    principal, password = user
    start = fleet_kdc.log_size()
    result = await psfleet.arun(
        targets(fleet),
        "hostname",
        auth="negotiate",
        credential=(principal, "not-the-password"),
        throttle=50,
    )
    assert Counter(h.status for h in result.hosts.values()) == {HostStatus.AUTH_FAILED: 50}
    withheld = [h for h in result.hosts.values() if h.error_type == "CredentialWithheld"]
    rejected = [h for h in result.hosts.values() if h.error_type != "CredentialWithheld"]
    assert len(rejected) == 1 and len(withheld) == 49
    assert f"the KDC rejected the credentials of {principal}" in str(rejected[0].error_message)
    assert all("(lockout guard)" in str(h.error_message) for h in withheld)
    assert all(h.remedy for h in result.hosts.values())
    assert await logged(fleet_kdc, start, lambda lines: len(as_exchanges(lines, principal)), 1) == 1
    assert "PREAUTH_FAILED" in as_exchanges(fleet_kdc.log_lines(start), principal)[0]
    assert fleet.stats()["auth_failures"] == 0  # no host saw the bad password
    assert "not-the-password" not in repr(result)
    # One bad attempt of the policy's three: the account still works.
    ticket = await anyio.to_thread.run_sync(
        functools.partial(kerberos.get_ticket, principal, password, forwardable=False)
    )
    ticket.destroy()


async def test_the_double_hop_works_with_a_password_and_delegate(
    fleet: SimFleet, user: tuple[str, str]
) -> None:
    result = await psfleet.arun(
        [t for t in targets(fleet) if t.name == "node01"],
        SECOND_HOP,
        auth="kerberos",
        credential=user,
        delegate=True,
    )
    host = result.hosts["node01"]
    assert host.status is HostStatus.OK, host.error_message
    assert host.output == ["NODE02"]


async def test_a_kdc_that_stops_answering_mid_run_costs_each_host_its_timeout_only(
    fleet: SimFleet, fleet_kdc: MitKdc, user: tuple[str, str]
) -> None:
    done: list[HostDone] = []

    class Pauser:
        async def handle(self, event: object) -> None:
            if isinstance(event, HostDone):
                done.append(event)
                if len(done) == 5:
                    fleet_kdc.pause()  # the TGT is in hand; service tickets now never come

    started = time.monotonic()
    try:
        async with watch_loop() as watchdog:
            result = await psfleet.arun(
                targets(fleet)[:20],
                "hostname",
                auth="kerberos",
                credential=user,
                throttle=5,
                retries=0,
                host_timeout=2.0,
                timeouts=Timeouts(connect=2.0, request=2.0, operation=5.0, close=2.0),
                sinks=[Pauser()],
            )
    finally:
        fleet_kdc.resume()
    statuses = Counter(h.status for h in result.hosts.values())
    assert statuses[HostStatus.OK] >= 5
    assert statuses[HostStatus.OK] + statuses[HostStatus.TIMEOUT] == 20
    assert max(e.duration_s for e in done) <= 2.0 + 1.0
    assert watchdog.longest_stall < 1.0, watchdog.stalled_stack
    # 15 stuck hosts, 5 at a time, 2 s each: about 6 s, not 15 x the KDC's own timeouts.
    assert time.monotonic() - started < 15
    assert fleet.stats()["shells_open"] == 0

"""One corrupted answer per host: a typed status for each, and no shell left on the hosts.

A proxy in front of simfleet mangles exactly one answer per host (truncated, flipped
bytes, a token that is not base64, a garbage 500, garbage XML, a cut connection), at
every point of a host's conversation from the auth challenge to the Delete's answer.
"""

from __future__ import annotations

from typing import Any

import pytest

import psfleet
from psfleet.events import Event, HostDone, HostStatus, RunSummary
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from tests.support.corrupting_proxy import CorruptingProxy, Corruption, Mutation

pytestmark = pytest.mark.anyio

HOSTS = 150
CLEAN = 6  # hosts left alone: their conversation is the yardstick
SCRIPT = "$env:COMPUTERNAME; 1..3"
_BODY_KINDS = [kind for kind in Mutation if kind is not Mutation.BAD_BASE64]


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        self.events.append(event)


def proxied(
    fleet: SimFleet, subnet: int, network: str = "127.12"
) -> tuple[dict[str, tuple[str, int]], list[Target]]:
    """A proxy address per host (NETWORK.SUBNET.x) and the targets that go through it."""
    routes: dict[str, tuple[str, int]] = {}
    targets = []
    for index, host in enumerate(fleet.hosts, start=1):
        address = f"{network}.{subnet}.{index}"
        routes[address] = (host.address, host.port)
        targets.append(Target(host.name, address, 5985))
    return routes, targets


def plan(addresses: list[str], answers_per_host: int) -> dict[str, Corruption]:
    """Every kind at every answer it can spoil: the auth challenge (bad base64), then the rest.

    Answer 1 is the 401 challenge (no body); answers 2.. carry the Create, the pool's
    Receives, the Command, the pipeline's Receives and, last, the Delete.
    """
    corrupted = addresses[CLEAN:]
    plans = {}
    for number, address in enumerate(corrupted):
        kind = list(Mutation)[number % len(Mutation)]
        if kind is Mutation.BAD_BASE64:
            plans[address] = Corruption(kind, 1)
        else:
            answer = 2 + (number // len(Mutation)) % (answers_per_host - 1)
            plans[address] = Corruption(kind, answer)
    return plans


def expected(corruption: Corruption, answers_per_host: int) -> HostStatus:
    if corruption.answer == answers_per_host:
        return HostStatus.OK  # the Delete's answer: the script had finished, the retry deletes
    if corruption.kind is Mutation.CUT:
        return HostStatus.UNREACHABLE  # a dropped connection: not garbage
    return HostStatus.PROTOCOL_ERROR  # a garbage 500 too: the host answered, not understandably


async def test_every_host_gets_a_typed_status_and_no_shell_stays_open(
    fleet_factory: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=HOSTS)
    routes, targets = proxied(fleet, 0)
    addresses = list(routes)
    answers_per_host = 7  # checked below against the clean hosts
    plans = plan(addresses, answers_per_host)
    recorder = Recorder()
    async with CorruptingProxy(routes, plans, port=5985) as proxy:
        result = await psfleet.arun(
            targets, SCRIPT, sinks=[recorder], **run_settings(retries=0, throttle=64)
        )
        answers = {address: proxy.answers(address) for address in addresses}

    assert {len(answers[a]) for a in addresses[:CLEAN]} == {answers_per_host}
    done = [e for e in recorder.events if isinstance(e, HostDone)]
    assert sorted(e.host for e in done) == sorted(t.name for t in targets)  # one each
    statuses = {e.host: e.status for e in done}
    for target, address in zip(targets, addresses, strict=True):
        corruption = plans.get(address)
        if corruption is None:
            assert statuses[target.name] is HostStatus.OK, target.name
            continue
        spoiled = answers[address][corruption.answer - 1]
        assert spoiled.corrupted is corruption.kind, (target.name, answers[address])
        assert statuses[target.name] is expected(corruption, answers_per_host), (
            target.name,
            corruption,
            result.hosts[target.name].error_message,
        )
    assert result.counts[HostStatus.PROTOCOL_ERROR] > 0
    assert fleet.stats()["shells_open"] == 0
    summary = recorder.events[-1]
    assert isinstance(summary, RunSummary) and summary.shells_possibly_open == ()


async def test_a_shell_whose_delete_cannot_get_through_is_named_in_the_summary(
    fleet_factory: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=3)
    routes, targets = proxied(fleet, 1)
    lost = list(routes)[1]  # node02: its Create answer is garbled, then nothing gets through
    plans = {lost: Corruption(Mutation.GARBAGE_XML, 2, then_unreachable=True)}
    recorder = Recorder()
    async with CorruptingProxy(routes, plans, port=5985):
        result = await psfleet.arun(targets, SCRIPT, sinks=[recorder], **run_settings(retries=0))

    assert result.hosts["node02"].status is HostStatus.PROTOCOL_ERROR
    assert fleet.stats("node02")["shells_open"] == 1  # the host does hold it
    assert result.shells_possibly_open == ["node02"]
    summary = recorder.events[-1]
    assert isinstance(summary, RunSummary) and summary.shells_possibly_open == ("node02",)
    assert fleet.stats()["shells_open"] == 1  # the other hosts closed theirs


@pytest.mark.parametrize(
    ("answer", "started"),
    [(2, False), (6, True)],
    ids=["the create's answer", "a receive of the running command"],
)
async def test_a_garbage_500_is_a_protocol_error_not_an_unreachable_host(
    fleet_factory: Any, run_settings: Any, answer: int, started: bool
) -> None:
    fleet = await fleet_factory(hosts=2)
    routes, targets = proxied(fleet, answer, network="127.22")
    spoiled = next(iter(routes))
    plans = {spoiled: Corruption(Mutation.GARBAGE_500, answer)}
    async with CorruptingProxy(routes, plans, port=5985) as proxy:
        result = await psfleet.arun(targets, SCRIPT, **run_settings(retries=0))
        seen = proxy.answers(spoiled)

    assert (seen[answer - 1].status, seen[answer - 1].corrupted) == (200, Mutation.GARBAGE_500)
    host = result.hosts["node01"]
    assert (host.status, host.error_type) == (HostStatus.PROTOCOL_ERROR, "ProtocolError")
    assert host.error_message == "HTTP 500 Internal Server Error whose body is not a WSMan fault"
    assert (host.remedy is not None and "may have run" in host.remedy) is started
    assert result.hosts["node02"].status is HostStatus.OK
    assert fleet.stats()["shells_open"] == 0

"""--timeout is a hard deadline: host_done within timeout + 1 s, whatever the host was doing.

Hosts stall at different moments: a TLS handshake that never finishes, a first auth leg
never answered (blackhole), every answer late by 1 s (slow: the deadline falls while
the Create is out), by 600 ms or 250 ms (during the pool's open, the Command), or
a pipeline that runs too long, its host healthy (secure01 too, over HTTPS). Cleanup
after the deadline is bounded, and a shell it could not delete is named in the
summary, never left open silently.
"""

from __future__ import annotations

from typing import Any

import pytest

import psfleet
from psfleet.events import Event, HostDone, HostStatus, RunSummary

pytestmark = pytest.mark.anyio

HOST_TIMEOUT = 1.5
SCRIPT = "Start-Sleep -Seconds 20; 'late'"
FAULTS = "blackhole:node05,node06,delay:node07@250ms,delay:node08@600ms,slow:node09,drop:node10"
# Hosts whose cleanup fits its budget with room to spare: their shells must be gone.
CLEAN_AFTERWARDS = {"node01", "node02", "node03", "node04", "node07", "node10"}


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def handle(self, event: Event) -> None:
        self.events.append(event)


async def test_host_done_comes_within_the_timeout_plus_one_second_wherever_a_host_stalls(
    fleet_factory: Any, targets_of: Any, run_settings: Any
) -> None:
    fleet = await fleet_factory(hosts=10, faults=FAULTS)
    tls_fleet = await fleet_factory(
        hosts=2, names=("secure01", "secure02"), tls=True, port=5986, faults="blackhole:secure02"
    )
    targets = targets_of(fleet) + targets_of(tls_fleet)
    recorder = Recorder()
    settings = run_settings(retries=0, host_timeout=HOST_TIMEOUT, ca_file=tls_fleet.ca_file)
    result = await psfleet.arun(targets, SCRIPT, sinks=[recorder], **settings)

    done = {e.host: e for e in recorder.events if isinstance(e, HostDone)}
    assert sorted(done) == sorted(t.name for t in targets)
    over = {host: e.duration_s for host, e in done.items() if e.duration_s > HOST_TIMEOUT + 1.0}
    assert over == {}
    assert {e.status for e in done.values()} == {HostStatus.TIMEOUT}
    # The cleanup is bounded: pipeline stop, Delete and connection close, a close timeout each.
    close = settings["timeouts"].close
    assert result.wall_s < HOST_TIMEOUT + 3 * close + 2.0
    summary = recorder.events[-1]
    assert isinstance(summary, RunSummary)
    still_open = {h for h, counts in fleet.stats()["hosts"].items() if counts["shells_open"]}
    assert still_open <= set(summary.shells_possibly_open)
    assert not CLEAN_AFTERWARDS & (still_open | set(summary.shells_possibly_open))
    assert tls_fleet.stats()["shells_open"] == 0

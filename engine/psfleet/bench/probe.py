"""The read-only probe of one host: connect, authenticate, open a pool, run, repeat, close.

Phases, each timed on its own: `connect` (TCP, the auth handshake and an authenticated
WSMan Identify), a second Identify (one bare round trip: the RTT sample), `open` (the
runspace pool), `command` (the first run of the script, then `commands` warm repeats
on the same pool, each with its WSMan request count) and `close` (Delete). The
smallest request time after the connect is the host's RTT estimate.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio

from psfleet.bench.timing import TimedTransport, timed_pool
from psfleet.client import ClientOptions
from psfleet.errors import OperationTimeout, PsfleetError
from psfleet.events import HostStatus
from psfleet.fanout.status import Happened, final_status
from psfleet.transport.options import Endpoint
from psfleet.wsman import fault_to_error, parse_envelope, parse_fault
from psfleet.wsman.identify import IDENTIFY_REQUEST, parse_identify_response

DEFAULT_SCRIPT = "$PSVersionTable.PSVersion"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProbePlan:
    script: str = DEFAULT_SCRIPT
    commands: int = 3  # warm repeats after the first run
    host_timeout_s: float = 60.0
    # Probed one at a time before the fan-out: RTT and CPU per host without contention.
    unloaded_hosts: int = 3


@dataclass(slots=True)
class HostProbe:
    host: str
    status: HostStatus = HostStatus.OK
    error_type: str | None = None
    error: str | None = None
    phase: str | None = None  # where it failed
    connect_s: float | None = None
    rtt_s: float | None = None
    pool_open_s: float | None = None
    first_command_s: float | None = None
    warm_s: list[float] = field(default_factory=list)
    command_requests: list[int] = field(default_factory=list)  # WSMan requests per warm run
    close_s: float | None = None
    requests: int = 0  # WSMan requests, auth handshake legs not included
    total_s: float = 0.0
    cpu_s: float | None = None  # this host's client CPU, known when it was probed alone

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK

    @property
    def commands_done(self) -> int:
        return (self.first_command_s is not None) + len(self.warm_s)

    def fail(self, error: BaseException) -> None:
        verdict = final_status(Happened(self.host, error=error))
        self.status, self.error_type, self.error = (
            verdict.status,
            verdict.error_type,
            verdict.message,
        )


async def probe_host(endpoint: Endpoint, options: ClientOptions, plan: ProbePlan) -> HostProbe:
    """Probe one host; never raises for the host's own failures (they land on the probe)."""
    probe = HostProbe(endpoint.host)
    started = time.perf_counter()
    try:
        with anyio.fail_after(plan.host_timeout_s):
            await _probe(probe, endpoint, options, plan)
    except TimeoutError:
        probe.fail(OperationTimeout(f"no answer within {plan.host_timeout_s:g}s", host=probe.host))
    except PsfleetError as exc:
        probe.fail(exc)
    probe.total_s = time.perf_counter() - started
    return probe


async def _probe(
    probe: HostProbe, endpoint: Endpoint, options: ClientOptions, plan: ProbePlan
) -> None:
    probe.phase = "connect"
    transport = TimedTransport(endpoint, options)
    pool = timed_pool(transport, options)
    log = transport.log
    try:
        probe.connect_s = await _timed(_identify(transport))
        await _identify(transport)
        probe.phase = "open"
        probe.pool_open_s = await _timed(pool.open())
        probe.phase = "command"
        result, probe.first_command_s = await _timed_value(pool.invoke(plan.script))
        result.raise_for_state()
        for _ in range(plan.commands):
            mark = log.count
            result, elapsed = await _timed_value(pool.invoke(plan.script))
            result.raise_for_state()
            probe.warm_s.append(elapsed)
            probe.command_requests.append(log.count - mark)
        probe.phase = "close"
    finally:
        close_started = time.perf_counter()
        await pool.aclose()
        probe.close_s = time.perf_counter() - close_started
        probe.requests = log.count
        later = log.durations_s[1:]  # the first one also paid for connect and auth
        probe.rtt_s = min(later) if later else None
    probe.phase = None


async def _identify(transport: TimedTransport) -> None:
    answer = parse_envelope(await transport.request(IDENTIFY_REQUEST))
    if answer.is_fault:
        raise fault_to_error(parse_fault(answer), host=transport.host)
    parse_identify_response(answer.body)


async def _timed(step: Awaitable[object]) -> float:
    started = time.perf_counter()
    await step
    return time.perf_counter() - started


async def _timed_value(step: Awaitable[T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = await step
    return value, time.perf_counter() - started

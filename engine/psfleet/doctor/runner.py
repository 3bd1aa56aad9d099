"""Run the checks in order; a check whose prerequisite failed is reported, not run.

Every check bounds its own waits; the runner adds a deadline per check on top, so
that no single probe can hang the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from psfleet.client import ClientOptions
from psfleet.doctor.auth_offered import AUTH_OFFERED, check_auth_offered
from psfleet.doctor.certificate import TLS, check_tls
from psfleet.doctor.context import Probe
from psfleet.doctor.kdc import KDC, METHODS, check_kdc
from psfleet.doctor.listener import LISTENER, check_listener
from psfleet.doctor.model import Check, DoctorReport
from psfleet.doctor.network import RESOLVE, TCP, check_resolve, check_tcp
from psfleet.doctor.second_hop import SECOND_HOP, check_second_hop
from psfleet.doctor.session import CREDENTIALS, QUOTA, check_credentials, check_quota
from psfleet.errors import PsfleetError
from psfleet.transport.credentials import CredentialBroker
from psfleet.transport.options import Endpoint


def _always(probe: Probe) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: Callable[[Probe], Awaitable[Check]]
    needs: tuple[str, ...]  # checks that must pass first (when they apply)
    sessions: int = 1  # how many logins it may make: its deadline grows with them
    applies: Callable[[Probe], bool] = _always  # a check that does not apply has no row


STEPS = (
    # First: it needs nothing from the host, and a password the KDC rejects must not be
    # presented again by the listener's login or the credentials check.
    Step(KDC, check_kdc, (), applies=lambda probe: probe.options.auth.method in METHODS),
    Step(RESOLVE, check_resolve, ()),
    Step(TCP, check_tcp, (RESOLVE,)),
    Step(TLS, check_tls, (TCP,)),
    Step(LISTENER, check_listener, (TLS,)),
    Step(AUTH_OFFERED, check_auth_offered, (LISTENER,)),
    Step(CREDENTIALS, check_credentials, (AUTH_OFFERED, KDC)),
    Step(QUOTA, check_quota, (CREDENTIALS,)),
    Step(
        SECOND_HOP,
        check_second_hop,
        (QUOTA,),
        sessions=3,
        applies=lambda probe: probe.second_hop is not None,
    ),
)


async def diagnose(
    endpoint: Endpoint, options: ClientOptions, *, second_hop: str | None = None
) -> DoctorReport:
    """Check one host from the KDC and name resolution up to (with `second_hop`) a second hop.

    Read-only: nothing on the host is changed, and every session opened is closed.
    """
    # One broker for every login of the report, as for a run: one ticket, one lockout
    # guard, and a KDC that does not answer is waited for once, not once per check.
    auth, broker = CredentialBroker.attach(options.auth, options.timeouts)
    options = dataclasses.replace(options, auth=auth)
    try:
        return await _run_steps(Probe(endpoint, options, second_hop))
    finally:
        if broker is not None:
            broker.close()


async def _run_steps(probe: Probe) -> DoctorReport:
    checks: list[Check] = []
    failed_root: dict[str, str] = {}  # a check that did not pass -> the check that failed first
    for step in STEPS:
        if not step.applies(probe):
            continue
        root = next((failed_root[need] for need in step.needs if need in failed_root), None)
        if root is not None:
            check = Check.skipped(step.name, root)
            failed_root[step.name] = root
        else:
            check = await _bounded(step, probe)
            if not check.ok:
                failed_root[step.name] = step.name
        checks.append(check)
    return DoctorReport(probe.name, tuple(checks))


async def _bounded(step: Step, probe: Probe) -> Check:
    timeouts = probe.options.timeouts
    limit = step.sessions * (timeouts.connect + 2 * timeouts.request + timeouts.operation)
    with anyio.move_on_after(limit):
        try:
            return await step.run(probe)
        except PsfleetError as exc:
            # A failure the check did not foresee is still a row of the report.
            return Check.failed(step.name, f"{type(exc).__name__}: {exc.message}")
    return Check.failed(step.name, f"no verdict within {limit:g}s")

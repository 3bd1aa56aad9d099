"""pywinrm 0.5.0 run_ps with a ThreadPoolExecutor.

run_ps runs `powershell -EncodedCommand` in a cmd shell (WinRS) and returns text.
cold and large: a new Session per host. warm: Sessions made first (their HTTP
connection authenticated by one run_ps), then run_ps again on each; pywinrm
still creates and deletes a shell per run_ps, which is what its users get.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import winrm

from benchmarks.protocol import CREDENTIAL, ChildSpec
from benchmarks.tools.outcome import Outcome, fan_out, measured

Report = Callable[[Outcome], None]


def session(spec: ChildSpec, address: str) -> winrm.Session:
    scheme = "https" if spec.tls else "http"
    options: dict[str, str] = {"transport": "basic" if spec.auth == "basic-https" else "ntlm"}
    if spec.tls and spec.ca_file:
        options |= {"server_cert_validation": "validate", "ca_trust_path": spec.ca_file}
    return winrm.Session(f"{scheme}://{address}:{spec.port}/wsman", auth=CREDENTIAL, **options)


def _run_ps(spec: ChildSpec, shell: winrm.Session) -> bool:
    result = shell.run_ps(spec.script)
    return result.status_code == 0 and bool(result.std_out.strip())


def run(spec: ChildSpec, report: Report) -> float | None:
    addresses = [address for _, address in spec.targets()]
    outcome = Outcome()
    if spec.kind == "warm":
        sessions = _open_sessions(spec, addresses, outcome)
        addresses, work = list(sessions), _reusing(spec, sessions)
    else:
        work = _fresh(spec)
    deadline = time.monotonic() + spec.time_limit_s
    with measured(outcome):
        fan_out(addresses, spec.threads or 1, work, deadline, outcome)
    report(outcome)
    return None


def _fresh(spec: ChildSpec) -> Callable[[str], bool]:
    return lambda address: _run_ps(spec, session(spec, address))


def _reusing(spec: ChildSpec, sessions: dict[str, winrm.Session]) -> Callable[[str], bool]:
    return lambda address: _run_ps(spec, sessions[address])


def _open_sessions(
    spec: ChildSpec, addresses: list[str], outcome: Outcome
) -> dict[str, winrm.Session]:
    """A Session per host, its connection authenticated by a first run_ps (not measured)."""
    sessions: dict[str, winrm.Session] = {}

    def first(address: str) -> bool:
        sessions[address] = session(spec, address)
        return _run_ps(spec, sessions[address])

    opening = Outcome()
    started = time.perf_counter()
    fan_out(addresses, spec.threads or 1, first, time.monotonic() + spec.time_limit_s, opening)
    outcome.open_s = time.perf_counter() - started
    outcome.open_failures = sum(opening.failures.values())
    outcome.failures.update(opening.failures)
    return sessions

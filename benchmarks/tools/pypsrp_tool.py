"""pypsrp 0.9.1 with a ThreadPoolExecutor, as its users fan out.

Kerberos and Negotiate go through pyspnego/gssapi with the password, as pypsrp's users
pass it (each host's context gets its own TGT from the KDC), to the SPN HTTP/<name>
of the host's inventory name, not of the address it connects to.

cold: Client.execute_ps per host (opens a pool, runs, closes). large: a RunspacePool
per host and PowerShell.invoke, so objects come back as objects (execute_ps would
turn them into text). warm: RunspacePools opened first, then one more invoke each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pypsrp.client import Client
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from benchmarks.protocol import ChildSpec
from benchmarks.tools.outcome import Outcome, fan_out, measured

Report = Callable[[Outcome], None]
Target = tuple[str, str]  # (inventory name, address)
# The harness's names for what pypsrp calls basic and negotiate.
_AUTH = {"basic-https": "basic", "negotiate-no-kdc": "negotiate"}


def connection(spec: ChildSpec, name: str) -> dict[str, Any]:
    user, password = spec.credential()
    options: dict[str, Any] = {
        "port": spec.port,
        "username": user,
        "password": password,
        "ssl": spec.tls,
        "auth": _AUTH.get(spec.auth, spec.auth),
        "cert_validation": spec.ca_file or False,
    }
    if options["auth"] in ("kerberos", "negotiate"):
        options |= {"negotiate_hostname_override": name, "negotiate_service": "HTTP"}
    return options


def run(spec: ChildSpec, report: Report) -> float | None:
    targets = spec.targets()
    threads = spec.threads or 1
    if spec.kind == "warm":
        return _warm(spec, targets, threads, report)
    work = _execute_ps if spec.kind == "cold" else _invoke_in_new_pool
    outcome = Outcome()
    deadline = time.monotonic() + spec.time_limit_s
    with measured(outcome):
        fan_out(targets, threads, lambda t: work(spec, t), deadline, outcome)
    report(outcome)
    return None


def _execute_ps(spec: ChildSpec, target: Target) -> bool:
    name, address = target
    output, _, had_errors = Client(address, **connection(spec, name)).execute_ps(spec.script)
    return not had_errors and bool(output.strip())


def _invoke_in_new_pool(spec: ChildSpec, target: Target) -> bool:
    name, address = target
    with RunspacePool(WSMan(address, **connection(spec, name))) as pool:
        return _invoke(spec, pool)


def _invoke(spec: ChildSpec, pool: RunspacePool) -> bool:
    shell = PowerShell(pool)
    shell.add_script(spec.script)
    output = shell.invoke()
    return not shell.had_errors and len(output) >= spec.expected_objects


def _warm(spec: ChildSpec, targets: list[Target], threads: int, report: Report) -> float:
    pools: dict[str, RunspacePool] = {}
    outcome = Outcome()

    def open_pool(target: Target) -> bool:
        name, address = target
        pool = RunspacePool(WSMan(address, **connection(spec, name)))
        pool.open()
        pools[address] = pool
        return True

    opening = Outcome()
    started = time.perf_counter()
    fan_out(targets, threads, open_pool, time.monotonic() + spec.time_limit_s, opening)
    outcome.open_s = time.perf_counter() - started
    outcome.open_failures = sum(opening.failures.values())
    try:
        deadline = time.monotonic() + spec.time_limit_s
        with measured(outcome):
            fan_out(list(pools), threads, lambda a: _invoke(spec, pools[a]), deadline, outcome)
        outcome.failures.update(opening.failures)  # a host without a pool failed the case too
        report(outcome)
    finally:
        started = time.perf_counter()
        closing = Outcome()
        fan_out(list(pools), threads, _close(pools), time.monotonic() + spec.time_limit_s, closing)
    return time.perf_counter() - started


def _close(pools: dict[str, RunspacePool]) -> Callable[[str], bool]:
    def close(address: str) -> bool:
        pools[address].close()
        return True

    return close

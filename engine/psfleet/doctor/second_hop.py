"""The second_hop check: from a session on HOST, can each auth method reach OTHER?

Each method that may be tried opens its own pool on HOST and runs
`Invoke-Command -ComputerName OTHER { $env:COMPUTERNAME }` there. CredSSP is tried
only for a host the --delegate-to allowlist covers (it hands over the password),
Kerberos only with --delegate. The check passes when the method of --auth reaches
OTHER: that is what a run with the same options will do.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import anyio

from psfleet.client import ClientOptions, open_pool
from psfleet.doctor.context import Probe
from psfleet.doctor.model import Check
from psfleet.errors import PsfleetError, UsageError
from psfleet.fanout.diagnose import find_double_hop, remedy
from psfleet.transport.options import AuthMethod

SECOND_HOP = "second_hop"
# A host name or an IPv4 address: it goes into a script, so nothing that could quote out.
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,252}$")


@dataclass(frozen=True, slots=True)
class Hop:
    method: AuthMethod
    reached: bool
    detail: str  # "reached NODE02", "double hop denied", "not tried: ..."
    denied: bool = False  # the double hop itself failed, as opposed to anything else


def check_second_hop_name(name: str) -> str:
    if not _HOST_NAME.match(name):
        raise UsageError(f"--second-hop {name!r} is not a host name")
    return name


async def check_second_hop(probe: Probe) -> Check:
    assert probe.second_hop is not None  # the runner adds this check only with --second-hop
    other = probe.second_hop
    chosen = probe.options.auth.method
    hops = [await _hop(probe, method) for method in _methods(chosen)]
    detail = "; ".join(f"{hop.method.value}: {hop.detail}" for hop in hops)
    if hops[0].reached:
        return Check.passed(SECOND_HOP, f"{probe.name} → {other}: {detail}")
    return Check.failed(SECOND_HOP, f"{probe.name} → {other}: {detail}", _remedy(probe, hops))


def _methods(chosen: AuthMethod) -> list[AuthMethod]:
    """--auth first; then NTLM (unless negotiate stands for it), CredSSP, Kerberos."""
    others = [AuthMethod.NTLM, AuthMethod.CREDSSP, AuthMethod.KERBEROS]
    if chosen is AuthMethod.NEGOTIATE:
        others.remove(AuthMethod.NTLM)
    return [chosen, *(method for method in others if method is not chosen)]


async def _hop(probe: Probe, method: AuthMethod) -> Hop:
    why_not = _not_tried(probe, method)
    if why_not is not None:
        return Hop(method, False, f"not tried: {why_not}")
    auth = dataclasses.replace(probe.options.auth, method=method)
    options: ClientOptions = dataclasses.replace(probe.options, auth=auth)
    try:
        return await _invoke(probe, method, options)
    except PsfleetError as exc:
        return Hop(method, False, f"no session: {exc.message}")


def _not_tried(probe: Probe, method: AuthMethod) -> str | None:
    auth = probe.options.auth
    if method is auth.method:
        return None
    has_password = auth.credential is not None and auth.credential.password is not None
    if method is AuthMethod.NTLM and not has_password:
        return "NTLM needs -u and a password"
    if method is AuthMethod.CREDSSP:
        if not has_password:
            return "CredSSP needs -u and a password"
        if "credssp" not in (scheme.lower() for scheme in probe.findings.offered):
            return f"{probe.name} does not offer CredSSP (Enable-WSManCredSSP -Role Server)"
        if auth.credssp_allowed is None or not auth.credssp_allowed(probe.name):
            return f"CredSSP needs --delegate-to {probe.name}"
    if method is AuthMethod.KERBEROS and not auth.delegate:
        return "Kerberos delegation needs --delegate and a forwardable ticket (kinit -f)"
    return None


async def _invoke(probe: Probe, method: AuthMethod, options: ClientOptions) -> Hop:
    other = probe.second_hop
    script = f"Invoke-Command -ComputerName '{other}' -ScriptBlock {{ $env:COMPUTERNAME }}"
    timeouts = options.timeouts
    pool = await open_pool(probe.endpoint, options)
    try:
        with anyio.fail_after(timeouts.request + timeouts.operation):
            result = await pool.invoke(script)
    except TimeoutError:
        return Hop(method, False, "Invoke-Command gave no answer in time")
    finally:
        await pool.aclose()
    if result.output:
        return Hop(method, True, f"reached {result.output[0]}")
    errors = [*result.errors, *([result.reason] if result.reason is not None else [])]
    hop = find_double_hop(probe.name, errors)
    if hop is not None:
        return Hop(method, False, "double hop denied (Access is denied)", denied=True)
    message = errors[0].message if errors else "no output"
    return Hop(method, False, f"failed: {message}")


def _remedy(probe: Probe, hops: list[Hop]) -> str:
    host, other = probe.name, probe.second_hop or ""
    working = [hop.method.value for hop in hops if hop.reached]
    if working:
        tail = f" --delegate-to {host}" if working[0] == "credssp" else ""
        return f"--auth {working[0]}{tail} reaches {other} from {host}: use it. " + remedy(
            host, other
        )
    if any(hop.denied for hop in hops):
        return remedy(host, other)
    return (
        f"{host} cannot reach {other} at all: on {host}, `Test-WSMan {other}` tells whether "
        f"{other} resolves there and has WinRM enabled."
    )

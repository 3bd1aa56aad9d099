"""The auth_offered check: which schemes the listener offers, and is --auth among them?

An unauthenticated request gets HTTP 401 with one WWW-Authenticate per scheme the
service allows (Negotiate, Kerberos, CredSSP, Basic). NTLM and Kerberos both ride
in the Negotiate scheme; certificate auth happens in the TLS handshake, not here.
"""

from __future__ import annotations

from psfleet.doctor.context import Probe
from psfleet.doctor.http_probe import post_anonymous
from psfleet.doctor.model import Check
from psfleet.errors import PsfleetError
from psfleet.transport.options import AuthMethod

AUTH_OFFERED = "auth_offered"

# The WWW-Authenticate scheme each --auth method needs.
_SCHEME_OF = {
    AuthMethod.BASIC: "Basic",
    AuthMethod.NTLM: "Negotiate",
    AuthMethod.NEGOTIATE: "Negotiate",
    AuthMethod.KERBEROS: "Negotiate",
    AuthMethod.CREDSSP: "CredSSP",
}


async def check_auth_offered(probe: Probe) -> Check:
    try:
        answer = await post_anonymous(probe, b"", {})
    except PsfleetError as exc:
        return Check.failed(AUTH_OFFERED, exc.message)
    if answer.status != 401:
        return Check.failed(
            AUTH_OFFERED,
            f"an unauthenticated request got HTTP {answer.status}, not 401 with the auth schemes",
            f"`winrm get winrm/config/service/auth` on {probe.name} shows what it allows.",
        )
    offered = answer.schemes
    probe.findings.offered = offered
    method = probe.options.auth.method
    listing = f"offers {', '.join(offered) or 'nothing'}"
    if method is AuthMethod.CERTIFICATE:
        return Check.passed(AUTH_OFFERED, f"{listing}; certificate auth is settled in TLS")
    wanted = _SCHEME_OF[method]
    if wanted.lower() in (scheme.lower() for scheme in offered):
        return Check.passed(AUTH_OFFERED, f"{listing}; --auth {method.value} is among them")
    return Check.failed(
        AUTH_OFFERED,
        f"{listing}; not {wanted} (--auth {method.value})",
        _remedy(probe, method),
    )


def _remedy(probe: Probe, method: AuthMethod) -> str:
    host = probe.name
    if method is AuthMethod.CREDSSP:
        return (
            f"On {host}: `Enable-WSManCredSSP -Role Server -Force`. A Windows client would also "
            f"run `Enable-WSManCredSSP -Role Client -DelegateComputer {host}`; psfleet's "
            f"equivalent is --delegate-to {host}."
        )
    if method is AuthMethod.BASIC and not probe.endpoint.tls:
        return (
            "Windows offers Basic only over HTTPS (AllowUnencrypted stays false: Basic would "
            f"send the password in clear text). Use --ssl with an HTTPS listener on {host}, "
            'where Basic must be on: `winrm set winrm/config/service/auth @{Basic="true"}` '
            "(local accounts only)."
        )
    scheme = "Basic" if method is AuthMethod.BASIC else "Negotiate"
    return f'On {host}: `winrm set winrm/config/service/auth @{{{scheme}="true"}}`.'

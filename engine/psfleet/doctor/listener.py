"""The listener check: is there a WinRM service at /wsman, and which versions does it speak?

WSMan Identify is the probe Test-WSMan sends; with `WSMANIDENTIFY: unauthenticated`
Windows answers it without credentials. A listener that refuses it (HTTP 401) is
asked again after authenticating; a failed login there is remembered so that the
credentials check does not send the same wrong password a second time.
"""

from __future__ import annotations

from psfleet.doctor.context import Probe
from psfleet.doctor.http_probe import post_anonymous
from psfleet.doctor.model import Check
from psfleet.errors import AuthError, ProtocolError, PsfleetError, UsageError
from psfleet.transport.host import HostTransport
from psfleet.wsman import parse_envelope
from psfleet.wsman.identify import IDENTIFY_REQUEST, IdentifyResult, parse_identify_response

LISTENER = "listener"


async def check_listener(probe: Probe) -> Check:
    url = probe.endpoint.url
    try:
        answer = await post_anonymous(probe, IDENTIFY_REQUEST, {"WSMANIDENTIFY": "unauthenticated"})
    except PsfleetError as exc:
        return Check.failed(LISTENER, f"{url}: {exc.message}", _restart_remedy(probe))
    if answer.status == 200:
        try:
            identify = _identify(answer.body)
        except ProtocolError:
            return Check.failed(
                LISTENER, f"{url} answers HTTP 200 but not with WSMan", _other_service(probe)
            )
        return Check.passed(LISTENER, f"{url}: {_versions(identify)}")
    if answer.status == 401:
        return await _after_login(probe)
    if answer.status == 404:
        return Check.failed(LISTENER, f"{url}: HTTP 404, no WSMan here", _other_service(probe))
    return Check.failed(
        LISTENER, f"{url}: HTTP {answer.status} {answer.reason}".strip(), _restart_remedy(probe)
    )


async def _after_login(probe: Probe) -> Check:
    url = probe.endpoint.url
    refused = f"{url} refused the anonymous Identify (HTTP 401)"
    if probe.findings.login_failure is not None:  # the kdc check already saw it fail
        return Check.passed(LISTENER, f"{refused}; versions unknown until the login works")
    try:
        transport = HostTransport(
            probe.endpoint,
            probe.options.auth,
            probe.options.tls,
            probe.options.timeouts,
            max_channels=1,
        )
    except UsageError as exc:  # e.g. Basic over HTTP: the credentials check reports it
        return Check.passed(LISTENER, f"{refused}; no login tried: {exc.message}")
    try:
        identify = _identify(await transport.request(IDENTIFY_REQUEST))
    except AuthError as exc:
        probe.findings.login_failure = exc
        return Check.passed(LISTENER, f"{refused}; versions unknown until the login works")
    except PsfleetError as exc:
        return Check.failed(
            LISTENER, f"{refused}; Identify after login: {exc.message}", _restart_remedy(probe)
        )
    finally:
        await transport.aclose()
    return Check.passed(LISTENER, f"{refused}; after login: {_versions(identify)}")


def _identify(body: bytes) -> IdentifyResult:
    return parse_identify_response(parse_envelope(body).body)


def _versions(identify: IdentifyResult) -> str:
    product = f"{identify.product_vendor} {identify.product_version}".strip()
    return f"product {product or 'unknown'}; protocol {identify.protocol_version or 'unknown'}"


def _restart_remedy(probe: Probe) -> str:
    return (
        f"On {probe.name}: `Restart-Service WinRM`, then look at the event log "
        "Microsoft-Windows-WinRM/Operational; `winrm quickconfig` repairs a broken configuration."
    )


def _other_service(probe: Probe) -> str:
    return (
        f"Something other than WinRM answers on port {probe.port}. On {probe.name}, "
        "`winrm enumerate winrm/config/listener` lists WinRM's listeners (URLPrefix wsman); "
        "`netsh http show urlacl` shows who holds the port."
    )

"""The TLS check: handshake as the transport would, and describe the certificate either way.

When verification fails, a second handshake without verification fetches the
certificate anyway, so the report can say which names and issuer it carries: that
is what tells a wrong name from an untrusted CA. Nothing is sent over it.
"""

from __future__ import annotations

import datetime as dt
import ssl

import anyio
from anyio.streams.tls import TLSAttribute
from cryptography import x509
from cryptography.x509.oid import NameOID

from psfleet.doctor.context import Probe
from psfleet.doctor.model import Check
from psfleet.errors import UsageError
from psfleet.transport.tls import ssl_context

TLS = "tls"

# OpenSSL X509_V_ERR_* codes of the failures that have their own remedy.
_NAME_MISMATCH = frozenset({62, 64})  # hostname, IP address
_UNTRUSTED = frozenset({18, 19, 20, 21})  # self-signed, unknown issuer
_OUT_OF_DATE = frozenset({9, 10})  # not yet valid, expired


async def check_tls(probe: Probe) -> Check:
    if not probe.endpoint.tls:
        return Check.passed(TLS, "not used: plain HTTP (the auth handshake seals each message)")
    try:
        context = ssl_context(probe.options.tls)
    except UsageError as exc:
        return Check.failed(TLS, exc.message, "Give --ca-file a PEM file of CA certificates.")
    try:
        der = await _peer_certificate(probe, context)
    except ssl.SSLCertVerificationError as exc:
        return await _unverified(probe, exc)
    except TimeoutError:
        limit = probe.options.timeouts.connect
        return Check.failed(TLS, f"no TLS handshake within {limit:g}s", _not_tls_remedy(probe))
    except (ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream, OSError) as exc:
        return Check.failed(TLS, f"TLS handshake failed: {_reason(exc)}", _not_tls_remedy(probe))
    certificate = x509.load_der_x509_certificate(der)
    if probe.options.tls.insecure_skip_tls_verify:
        unverified = f"NOT verified (--insecure-skip-tls-verify); {describe(certificate)}"
        return Check.passed(TLS, unverified)
    trust = probe.options.tls.ca_file or "the system CA store"
    return Check.passed(TLS, f"verified against {trust}: {describe(certificate)}")


async def _peer_certificate(probe: Probe, context: ssl.SSLContext) -> bytes:
    address = probe.findings.reachable or probe.connect_to
    with anyio.fail_after(probe.options.timeouts.connect):
        stream = await anyio.connect_tcp(
            address,
            probe.port,
            tls=True,
            ssl_context=context,
            tls_hostname=probe.name,  # the name the transport verifies, not the address
            tls_standard_compatible=False,
        )
    try:
        der = stream.extra(TLSAttribute.peer_certificate_binary)
    finally:
        await stream.aclose()
    if der is None:
        raise ssl.SSLError("the host presented no certificate")
    return der


async def _unverified(probe: Probe, error: ssl.SSLCertVerificationError) -> Check:
    looser = ssl.create_default_context()
    looser.check_hostname = False
    looser.verify_mode = ssl.CERT_NONE
    try:
        der = await _peer_certificate(probe, looser)
    except (ssl.SSLError, anyio.BrokenResourceError, anyio.EndOfStream, OSError, TimeoutError):
        certificate = None
    else:
        certificate = x509.load_der_x509_certificate(der)
    detail = f"certificate not accepted for {probe.name}: {error.verify_message}"
    if certificate is not None:
        detail += f"; {describe(certificate)}"
    return Check.failed(TLS, detail, _verify_remedy(probe, error.verify_code, certificate))


def describe(certificate: x509.Certificate) -> str:
    expires = certificate.not_valid_after_utc
    days = (expires - dt.datetime.now(dt.UTC)).days
    return (
        f"subject {_common_name(certificate.subject)}, issuer {_common_name(certificate.issuer)}, "
        f"SAN {', '.join(_names(certificate)) or '(none)'}, expires {expires:%Y-%m-%d} "
        f"(in {days} days)"
    )


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={values[0].value!s}" if values else name.rfc4514_string()


def _names(certificate: x509.Certificate) -> list[str]:
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return [*dns, *ips]


def _verify_remedy(probe: Probe, code: int, certificate: x509.Certificate | None) -> str:
    name = probe.name
    if code in _NAME_MISMATCH:
        names = ", ".join(_names(certificate)) if certificate is not None else "other names"
        return (
            f"The certificate names {names}, not {name}. Connect by one of those names (with "
            f"--inventory: name the host so and set ansible_host to its address), or bind a "
            f"certificate for {name} to the HTTPS listener on the host: `winrm set "
            f'winrm/config/Listener?Address=*+Transport=HTTPS @{{Hostname="{name}";'
            f'CertificateThumbprint="<thumbprint>"}}`.'
        )
    if code in _UNTRUSTED:
        issuer = _common_name(certificate.issuer) if certificate is not None else "its issuer"
        return (
            f"This machine does not trust {issuer}: pass --ca-file with that CA certificate "
            "(PEM), or add it to the system CA store; for a self-signed listener certificate, "
            "the certificate itself is the CA file."
        )
    if code in _OUT_OF_DATE:
        return (
            f"Renew the listener certificate on {name} and bind the new one (`winrm set "
            'winrm/config/Listener?Address=*+Transport=HTTPS @{CertificateThumbprint="<new>"}`).'
        )
    return f"Fix the HTTPS listener certificate on {name}, or pass --ca-file with its CA."


def _not_tls_remedy(probe: Probe) -> str:
    return (
        f"Port {probe.port} does not speak TLS: 5985 is the HTTP listener (drop --ssl), 5986 the "
        f"HTTPS one. List the listeners on {probe.name} with `winrm enumerate "
        "winrm/config/listener`."
    )


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return str(cause) or type(cause).__name__

"""The one place where aiohttp, ssl and OS errors, and HTTP error answers, become psfleet errors.

Mapped errors are raised `from None`: aiohttp exceptions can carry the request
headers (the Authorization header among them), and a chained cause would keep
them reachable from a logged traceback.
"""

from __future__ import annotations

import asyncio
import ssl

import aiohttp

from psfleet import errors
from psfleet.wsman import fault_to_error, parse_envelope, parse_fault


def map_client_error(exc: BaseException, host: str, *, waited_s: float) -> errors.PsfleetError:
    """The typed error for an exception raised by aiohttp while talking to `host`."""
    if isinstance(exc, errors.PsfleetError):
        return exc
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return errors.ConnectError(f"connect timed out after {waited_s:g}s", host=host)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return errors.OperationTimeout(f"no answer within {waited_s:g}s", host=host)
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return errors.TLSError(
            f"certificate verification failed: {exc.certificate_error}", host=host
        )
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError | ssl.SSLError):
        return errors.TLSError(f"TLS handshake failed: {_reason(exc)}", host=host)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return errors.ConnectError(f"DNS lookup failed: {_reason(exc)}", host=host)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return errors.ConnectError(f"cannot connect: {_reason(exc)}", host=host)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return errors.ConnectError("the connection was closed during the request", host=host)
    if isinstance(exc, aiohttp.ClientError | OSError):
        return errors.ConnectError(f"connection failed: {type(exc).__name__}", host=host)
    return errors.ProtocolError(f"unexpected transport failure: {type(exc).__name__}", host=host)


def _reason(exc: BaseException) -> str:
    os_error = getattr(exc, "os_error", None)
    if isinstance(os_error, OSError) and os_error.strerror:
        return os_error.strerror
    return str(exc) or type(exc).__name__


def status_error(status: int, reason: str, body: bytes, host: str) -> errors.PsfleetError:
    """The typed error for a non-200 answer; a WSMan fault body gives the fault itself."""
    if status == 401:
        return errors.AuthError("the host rejected the credentials (HTTP 401)", host=host)
    if body.lstrip().startswith(b"<"):
        try:
            envelope = parse_envelope(body)
        except errors.ProtocolError:
            envelope = None
        if envelope is not None and envelope.is_fault:
            return fault_to_error(parse_fault(envelope), host=host)
    return errors.HTTPStatusError(status, f"HTTP {status} {reason}".strip(), host=host)

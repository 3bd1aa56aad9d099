"""The one place where ssl, OS and HTTP-parser errors and HTTP error answers become psfleet errors.

Mapped errors are raised `from None`: a chained cause could keep request data
(the Authorization header among it) reachable from a logged traceback.
"""

from __future__ import annotations

import socket
import ssl

from httptools import HttpParserError

from psfleet import errors
from psfleet.wsman import fault_to_error, parse_envelope, parse_fault


def map_connect_error(exc: BaseException, host: str, *, waited_s: float) -> errors.PsfleetError:
    """The typed error for a failure to open the TCP (and TLS) connection to `host`."""
    if isinstance(exc, errors.PsfleetError):
        return exc
    if isinstance(exc, TimeoutError):
        return errors.ConnectError(f"connect timed out after {waited_s:g}s", host=host)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return errors.TLSError(
            f"certificate verification failed: {exc.verify_message or _reason(exc)}", host=host
        )
    if isinstance(exc, ssl.SSLError):
        return errors.TLSError(f"TLS handshake failed: {_reason(exc)}", host=host)
    if isinstance(exc, socket.gaierror):
        return errors.ConnectError(f"DNS lookup failed: {_reason(exc)}", host=host)
    if isinstance(exc, OSError):
        return errors.ConnectError(f"cannot connect: {_reason(exc)}", host=host)
    return errors.ProtocolError(f"unexpected connect failure: {type(exc).__name__}", host=host)


def map_exchange_error(
    exc: BaseException, host: str, *, timed_out: bool, waited_s: float
) -> errors.PsfleetError:
    """The typed error for a request that failed on an open connection to `host`."""
    if isinstance(exc, errors.PsfleetError):
        return exc
    if timed_out or isinstance(exc, TimeoutError):
        return errors.OperationTimeout(f"no answer within {waited_s:g}s", host=host)
    if isinstance(exc, HttpParserError):
        return errors.ProtocolError("the host's answer is not valid HTTP", host=host)
    if isinstance(exc, ssl.SSLError):
        return errors.TLSError(f"TLS failed during the request: {_reason(exc)}", host=host)
    if isinstance(exc, OSError):
        # The answer reader reports a dropped connection (a cut body among them) as
        # ConnectionResetError.
        return errors.ConnectError("the connection was closed during the request", host=host)
    return errors.ProtocolError(f"unexpected transport failure: {type(exc).__name__}", host=host)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def status_error(status: int, reason: str, body: bytes, host: str) -> errors.PsfleetError:
    """The typed error for a non-200 answer; a WSMan fault body gives the fault itself.

    WinRM answers 500 only with a fault: a 500 whose body is something else (noise, an HTML
    page) is an answer that cannot be understood. A bodiless 500 or another status says
    plainly that the service cannot serve us.
    """
    if status == 401:
        return errors.AuthError("the host rejected the credentials (HTTP 401)", host=host)
    if body.lstrip().startswith(b"<"):
        try:
            envelope = parse_envelope(body)
        except errors.ProtocolError:
            envelope = None
        if envelope is not None and envelope.is_fault:
            return fault_to_error(parse_fault(envelope), host=host)
    said = f"HTTP {status} {reason}".strip()
    if status == 500 and body.strip():
        return errors.ProtocolError(f"{said} whose body is not a WSMan fault", host=host)
    return errors.HTTPStatusError(status, said, host=host)

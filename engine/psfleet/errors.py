"""The one error hierarchy of psfleet.

Every failure a host can have is one of these types. Each says whether a retry
is safe (`retryable`) and which final host status it maps to (`status`), so the
scheduler classifies by type and never by parsing messages. Messages never
carry secrets: credentials are not passed to any constructor here.
"""

from __future__ import annotations

from typing import ClassVar

from psfleet.events import HostStatus


class PsfleetError(Exception):
    """Base of every psfleet error."""

    retryable: ClassVar[bool] = False
    status: ClassVar[HostStatus] = HostStatus.FAILED

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.host = host

    def __str__(self) -> str:
        return f"{self.host}: {self.message}" if self.host else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, host={self.host!r})"


class UsageError(PsfleetError):
    """The caller asked for something invalid (bad target, bad option)."""


class ConnectError(PsfleetError):
    """No connection to the host: refused, DNS failure, unreachable, reset before a request."""

    retryable = True
    status = HostStatus.UNREACHABLE


class TLSError(ConnectError):
    """The TLS handshake failed or the certificate did not verify."""

    retryable = False


class AuthError(PsfleetError):
    """The host rejected the credentials or offers none of the auth methods we may use."""

    status = HostStatus.AUTH_FAILED

    def __init__(self, message: str, *, host: str | None = None, remedy: str | None = None) -> None:
        super().__init__(message, host=host)
        self.remedy = remedy


class DelegationRefused(AuthError):
    """CredSSP was asked for a host outside the --delegate-to allowlist; nothing was sent."""


class OperationTimeout(PsfleetError):
    """A network wait or the whole host exceeded its deadline."""

    retryable = True
    status = HostStatus.TIMEOUT


class ProtocolError(PsfleetError):
    """The peer sent something that is not valid WSMan/PSRP (malformed XML, unexpected message).

    Garbage is not a script failure: the host ends `protocol_error`, not `failed`.
    """

    status = HostStatus.PROTOCOL_ERROR


class HTTPStatusError(PsfleetError):
    """The server answered an HTTP error status without a WSMan fault body.

    The WinRM service is up but not usable: the host counts as unreachable. 502, 503
    and 504 are transient and retried (see is_transient).
    """

    status = HostStatus.UNREACHABLE

    def __init__(self, http_status: int, message: str, *, host: str | None = None) -> None:
        super().__init__(message, host=host)
        self.http_status = http_status

    @property
    def is_transient(self) -> bool:
        return self.http_status in (502, 503, 504)


class WSManFault(PsfleetError):
    """A WSMan fault from the server, with its Windows error code."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: str | None = None,
        machine: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(message, host=host)
        self.code = code
        self.subcode = subcode
        self.machine = machine

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"subcode={self.subcode!r}, host={self.host!r})"
        )


class QuotaExceeded(WSManFault):
    """The host refused a shell or command because a WinRM quota is used up; try again later."""

    retryable = True


class ShellNotFound(WSManFault):
    """The server no longer knows the shell (it was deleted or timed out)."""


class RemoteScriptError(PsfleetError):
    """The script ran on the host and failed (terminating error). Never retried."""

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        error_id: str | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(message, host=host)
        self.error_id = error_id
        self.category = category


class DoubleHopDenied(RemoteScriptError):
    """The script reached for a second machine from a session without delegable credentials."""

    status = HostStatus.DOUBLE_HOP_DENIED

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        second_hop: str | None = None,
        remedy: str = "",
        error_id: str | None = None,
        category: str | None = None,
    ) -> None:
        super().__init__(message, host=host, error_id=error_id, category=category)
        self.second_hop = second_hop
        self.remedy = remedy


class Cancelled(PsfleetError):
    """The run was interrupted before this host finished."""

    status = HostStatus.CANCELLED

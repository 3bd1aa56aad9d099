"""What a connection to one host needs to know: where, how to authenticate, TLS, timeouts.

All options are frozen so that many hosts can share one instance (and one cached
SSL context). The password lives only in `Credential` and never shows in a repr.
"""

from __future__ import annotations

import enum
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from psfleet.errors import UsageError

if TYPE_CHECKING:
    from psfleet.transport.credentials import CredentialBroker

ENV_USER = "PSFLEET_USER"
ENV_PASSWORD = "PSFLEET_PASSWORD"


class AuthMethod(enum.StrEnum):
    BASIC = "basic"
    NTLM = "ntlm"
    NEGOTIATE = "negotiate"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    CERTIFICATE = "certificate"

    @property
    def connection_bound(self) -> bool:
        """The handshake authenticates the TCP connection, not each request."""
        return self in (
            AuthMethod.NTLM,
            AuthMethod.NEGOTIATE,
            AuthMethod.KERBEROS,
            AuthMethod.CREDSSP,
        )


@dataclass(frozen=True, slots=True)
class Credential:
    """A user name and password; `Credential(None, None)` means the Kerberos cache."""

    username: str | None
    password: str | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        secret = "<hidden>" if self.password is not None else None
        return f"Credential(username={self.username!r}, password={secret})"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credential | None:
        """PSFLEET_USER / PSFLEET_PASSWORD, or None when PSFLEET_USER is not set."""
        env = os.environ if environ is None else environ
        user = env.get(ENV_USER)
        return cls(user, env.get(ENV_PASSWORD)) if user else None

    @classmethod
    def prompt(cls, username: str | None = None) -> Credential:
        """Ask on the terminal; the password is read without echo."""
        user = username or input("User (DOMAIN\\user): ").strip()
        return cls(user, getpass.getpass(f"Password for {user}: "))

    @classmethod
    def kerberos_cache(cls) -> Credential:
        """Use the ticket in the Kerberos cache (KRB5CCNAME)."""
        return cls(None, None)


@dataclass(frozen=True, slots=True)
class AuthOptions:
    method: AuthMethod = AuthMethod.NEGOTIATE
    credential: Credential | None = None
    # Kerberos: ask for a forwardable, delegated ticket so the session can reach a second hop.
    delegate: bool = False
    # Basic sends the password in clear text: on plain HTTP only when explicitly allowed.
    allow_basic_over_http: bool = False
    # Hosts CredSSP may hand the password to; None refuses CredSSP everywhere.
    credssp_allowed: Callable[[str], bool] | None = field(default=None, compare=False)
    # The mechanism CredSSP authenticates with inside its TLS channel.
    credssp_mechanism: str = "negotiate"
    service: str = "HTTP"
    # Over HTTPS, bind NTLM/Kerberos handshakes to the host's TLS certificate (Extended
    # Protection, RFC 5929). Off only behind a TLS-terminating proxy the host trusts.
    channel_binding: bool = True
    # The lockout guard: hosts that may reject an unproven credential before it is withheld.
    max_auth_failures: int = 3
    # The run's CredentialBroker (tickets, lockout guard), shared by every host's channels;
    # set by the run's entry point (CredentialBroker.attach). HostTransport refuses None:
    # one host on its own asks for a broker of its own by name (HostTransport.alone).
    broker: CredentialBroker | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", AuthMethod(self.method))
        if self.max_auth_failures < 1:
            raise UsageError("--max-auth-failures must be at least 1")


@dataclass(frozen=True, slots=True)
class TLSOptions:
    """TLS verification is on unless `insecure_skip_tls_verify` is set, by that name."""

    ca_file: Path | str | None = None
    client_cert: Path | str | None = None
    client_key: Path | str | None = None
    insecure_skip_tls_verify: bool = False


class Wait(enum.Enum):
    """Which kind of network wait a request is; Timeouts gives each its seconds."""

    REQUEST = "request"
    RECEIVE = "receive"  # a long poll
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; every network wait has one of these."""

    connect: float = 10.0
    request: float = 30.0  # any request that is not a long poll, handshake legs included
    operation: float = 20.0  # WSMan OperationTimeout: how long the server holds a Receive
    close: float = 10.0  # Signal/Delete during cleanup
    idle: float = 60.0  # keep an unused connection this long (HTTP.sys drops it at 120 s)

    def seconds(self, wait: Wait) -> float:
        if wait is Wait.RECEIVE:
            # A long poll may take the whole OperationTimeout, plus the request allowance.
            return self.operation + self.request
        return self.close if wait is Wait.CLOSE else self.request


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a host listens. `host` is its inventory name: SPN, TLS name and PSComputerName."""

    host: str
    address: str | None = None  # connect here instead of resolving `host`
    port: int | None = None
    tls: bool = False
    path: str = "/wsman"

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        address = self.address or self.host
        if ":" in address:
            address = f"[{address}]"  # IPv6 literal
        port = self.port or (5986 if self.tls else 5985)
        return f"{scheme}://{address}:{port}{self.path}"


def check_auth_allowed(endpoint: Endpoint, auth: AuthOptions) -> None:
    """Refuse combinations that would leak a secret, before anything is sent."""
    if auth.method is AuthMethod.BASIC and not endpoint.tls and not auth.allow_basic_over_http:
        raise UsageError(
            "Basic auth over plain HTTP sends the password in clear text; use HTTPS or pass "
            "allow_basic_over_http=True",
            host=endpoint.host,
        )
    if auth.method is AuthMethod.CERTIFICATE and not endpoint.tls:
        raise UsageError("certificate auth needs HTTPS", host=endpoint.host)

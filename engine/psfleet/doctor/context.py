"""What every check sees: the host, how to reach it, and what earlier checks found out."""

from __future__ import annotations

from dataclasses import dataclass, field

from psfleet.client import ClientOptions
from psfleet.errors import AuthError, QuotaExceeded
from psfleet.transport.options import Endpoint


@dataclass(slots=True)
class Findings:
    """Facts a check learns for later checks (the next check must not probe again)."""

    addresses: list[str] = field(default_factory=list)  # resolved, in the order to try
    reachable: str | None = None  # the address that accepted TCP
    offered: list[str] = field(default_factory=list)  # WWW-Authenticate schemes of the listener
    # A login with these credentials failed (the listener's, or the KDC's AS exchange):
    # no later check presents them again.
    login_failure: AuthError | None = None
    quota_fault: QuotaExceeded | None = None  # authenticated, but no shell was granted


@dataclass(slots=True)
class Probe:
    endpoint: Endpoint  # endpoint.host is the name (TLS, SPN); address where to connect
    options: ClientOptions
    second_hop: str | None = None
    findings: Findings = field(default_factory=Findings)

    @property
    def name(self) -> str:
        return self.endpoint.host

    @property
    def port(self) -> int:
        return self.endpoint.port or (5986 if self.endpoint.tls else 5985)

    @property
    def connect_to(self) -> str:
        return self.endpoint.address or self.endpoint.host

"""HTTP transport: keep-alive connections on httptools (llhttp), pyspnego auth and encryption."""

from psfleet.transport.host import HostTransport
from psfleet.transport.options import (
    AuthMethod,
    AuthOptions,
    Credential,
    Endpoint,
    Timeouts,
    TLSOptions,
)

__all__ = [
    "AuthMethod",
    "AuthOptions",
    "Credential",
    "Endpoint",
    "HostTransport",
    "TLSOptions",
    "Timeouts",
]

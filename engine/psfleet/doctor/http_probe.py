"""Unauthenticated POSTs to the listener: the answers a client gets before it proves anything.

The transport always authenticates, so this is the one place that talks to /wsman
without credentials. Each probe uses its own short-lived connection (the transport's
HTTPConnection, so its failures are the transport's typed errors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from psfleet.doctor.context import Probe
from psfleet.transport.connection import HTTPConnection
from psfleet.transport.tls import ssl_context

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
# A scheme token at the start of a challenge; `realm=` and other parameters are not schemes.
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][\w-]*)(?=\s|,|$)")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    www_authenticate: str | None  # every WWW-Authenticate header, joined with ", "
    body: bytes

    @property
    def schemes(self) -> list[str]:
        """The auth schemes offered, in the order the server gave them."""
        found = (m.group(1) for m in _SCHEME.finditer(self.www_authenticate or ""))
        return list(dict.fromkeys(found))


async def post_anonymous(probe: Probe, body: bytes, headers: Mapping[str, str]) -> Answer:
    """POST without an Authorization header; transport failures become psfleet errors."""
    endpoint, timeouts = probe.endpoint, probe.options.timeouts
    connection = HTTPConnection(
        endpoint,
        ssl_context(probe.options.tls) if endpoint.tls else None,
        connect_timeout=timeouts.connect,
        idle_timeout=timeouts.idle,
    )
    try:
        answer = await connection.post(
            body, timeout=timeouts.request, content_type=SOAP_CONTENT_TYPE, extra_headers=headers
        )
    finally:
        await connection.aclose()
    return Answer(answer.status, answer.reason, answer.www_authenticate, answer.body)

"""Unauthenticated POSTs to the listener: the answers a client gets before it proves anything.

The transport always authenticates, so this is the one place that talks to /wsman
without credentials. Each probe uses its own short-lived connection.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from psfleet.doctor.context import Probe
from psfleet.transport.failures import map_client_error
from psfleet.transport.tls import ssl_context

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
# A scheme token at the start of a challenge; `realm=` and other parameters are not schemes.
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][\w-]*)(?=\s|,|$)")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    www_authenticate: tuple[str, ...]
    body: bytes

    @property
    def schemes(self) -> list[str]:
        """The auth schemes offered, in the order the server gave them."""
        found = (m.group(1) for value in self.www_authenticate for m in _SCHEME.finditer(value))
        return list(dict.fromkeys(found))


async def post_anonymous(probe: Probe, body: bytes, headers: Mapping[str, str]) -> Answer:
    """POST without an Authorization header; transport failures become psfleet errors."""
    endpoint, timeouts = probe.endpoint, probe.options.timeouts
    connector = aiohttp.TCPConnector(
        limit=1, force_close=True, ssl=ssl_context(probe.options.tls) if endpoint.tls else False
    )
    timeout = aiohttp.ClientTimeout(total=timeouts.request, sock_connect=timeouts.connect)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, timeout=timeout) as session,
            session.post(
                endpoint.url,
                data=body,
                headers={"Content-Type": SOAP_CONTENT_TYPE, "User-Agent": "psfleet", **headers},
                # Verify the certificate against the name, as the transport does.
                server_hostname=endpoint.host if endpoint.tls and endpoint.address else None,
                allow_redirects=False,
            ) as response,
        ):
            return Answer(
                response.status,
                response.reason or "",
                tuple(response.headers.getall("WWW-Authenticate", [])),
                await response.read(),
            )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise map_client_error(exc, endpoint.host, waited_s=timeouts.request) from None

"""One keep-alive HTTP/1.1 connection to a host, on aiohttp's client protocol and parser.

A channel posts one SOAP message at a time over one pinned TCP connection: no pool,
no redirects, no cookies, no proxies, no compression. aiohttp's ClientSession does all
of that for every request anyway (about 0.1 ms of CPU per request here, a third of a
cold host's client CPU; benchmarks/client_cpu.py), so this module keeps only aiohttp's
socket protocol (`ResponseHandler`) and its C response parser (llhttp) and writes the
request head itself: a POST line and five headers, all from psfleet's own values.

Every wait is bounded without cancelling the task: a request's deadline is one timer
that aborts the socket, and the parser's disconnect error then becomes the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp.client_proto import ResponseHandler

from psfleet.transport.failures import map_connect_error, map_exchange_error
from psfleet.transport.options import Endpoint

_READ_CHUNK = 2**16


@dataclass(frozen=True, slots=True)
class HTTPAnswer:
    status: int
    reason: str
    content_type: str
    www_authenticate: str | None  # every WWW-Authenticate header, joined with ", "
    body: bytes
    new_connection: bool  # the request went over a connection opened for it


def _host_header(endpoint: Endpoint, port: int) -> str:
    address = endpoint.address or endpoint.host
    if ":" in address:
        address = f"[{address}]"  # IPv6 literal
    return f"{address}:{port}"


class HTTPConnection:
    """POST to one endpoint over one TCP (or TLS) connection, reopened when it is gone."""

    def __init__(
        self,
        endpoint: Endpoint,
        ssl_context: ssl.SSLContext | None,
        *,
        connect_timeout: float,
        idle_timeout: float,
    ) -> None:
        self._host = endpoint.host
        self._address = endpoint.address or endpoint.host
        self._port = endpoint.port or (5986 if endpoint.tls else 5985)
        self._ssl = ssl_context
        # Connect to the address, verify the certificate against the inventory name.
        self._server_hostname = endpoint.host if ssl_context is not None else None
        self._connect_timeout = connect_timeout
        self._idle_timeout = idle_timeout
        self._head = (
            f"POST {endpoint.path} HTTP/1.1\r\n"
            f"Host: {_host_header(endpoint, self._port)}\r\n"
            "User-Agent: psfleet\r\nAccept-Encoding: identity\r\n"
        ).encode("ascii")
        self._protocol: ResponseHandler | None = None
        self._last_used = 0.0
        self._expired = False

    def __repr__(self) -> str:
        state = "open" if self.is_open() else "closed"
        return f"HTTPConnection({self._address!r}, port={self._port}, {state})"

    def is_open(self) -> bool:
        """Connected, and not idle so long that the host (or psfleet) has dropped it."""
        protocol = self._protocol
        if protocol is None:
            return False
        if not protocol.is_connected() or time.monotonic() - self._last_used > self._idle_timeout:
            self.close()
            return False
        return True

    async def open(self) -> None:
        """Connect now, if not connected (an auth handshake binds to the TLS certificate)."""
        if not self.is_open():
            await self._connect(self._connect_timeout)

    def peer_certificate(self) -> bytes | None:
        """The host's TLS certificate (DER) on the open connection; None on plain HTTP."""
        protocol = self._protocol
        if protocol is None or protocol.transport is None:
            return None
        ssl_object = protocol.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der: bytes | None = ssl_object.getpeercert(binary_form=True)
        return der

    async def post(
        self,
        body: bytes,
        *,
        timeout: float,  # noqa: ASYNC109 (a deadline timer, not a cancel scope: cheaper)
        content_type: str | None = None,
        authorization: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> HTTPAnswer:
        """One request and its whole answer within `timeout` seconds, connect included."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        new_connection = not self.is_open()
        if new_connection:
            await self._connect(min(timeout, self._connect_timeout))
        protocol = self._protocol
        assert protocol is not None and protocol.transport is not None
        self._expired = False
        timer = loop.call_at(deadline, self._expire)
        try:
            head = self._request_head(len(body), content_type, authorization, extra_headers)
            protocol.transport.write(head + body)
            message, payload = await protocol.read()
            data = await payload.read()
            if self._expired:
                raise TimeoutError
        except BaseException as exc:
            self.close()  # its state is unknown: never reuse it
            if isinstance(exc, Exception):
                error = map_exchange_error(
                    exc, self._host, timed_out=self._expired, waited_s=timeout
                )
                raise error from None
            raise
        finally:
            timer.cancel()
        self._last_used = time.monotonic()
        if message.should_close:
            self.close()
        headers = message.headers
        return HTTPAnswer(
            message.code,
            message.reason or "",
            headers.get("Content-Type", ""),
            # Windows sends one WWW-Authenticate header per scheme it offers.
            ", ".join(headers.getall("WWW-Authenticate", ())) or None,
            data,
            new_connection,
        )

    def close(self) -> None:
        """Drop the connection now (its socket closes on the loop's next turn)."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()

    async def aclose(self) -> None:
        """Close the connection and wait until its socket is closed."""
        protocol = self._protocol
        self.close()
        if protocol is not None and (closed := protocol.closed) is not None:
            with contextlib.suppress(Exception):  # a reset while closing is still closed
                await closed

    def _request_head(
        self,
        length: int,
        content_type: str | None,
        authorization: str | None,
        extra_headers: Mapping[str, str] | None,
    ) -> bytes:
        lines = [self._head]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}\r\n".encode("ascii"))
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}\r\n".encode("ascii"))
        for name, value in (extra_headers or {}).items():
            lines.append(f"{name}: {value}\r\n".encode("ascii"))
        lines.append(b"Content-Length: %d\r\n\r\n" % length)
        return b"".join(lines)

    async def _connect(self, timeout: float) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, protocol = await loop.create_connection(
                    lambda: ResponseHandler(loop),
                    self._address,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                )
        except Exception as exc:
            raise map_connect_error(exc, self._host, waited_s=timeout) from None
        # One parser per connection: llhttp reads keep-alive answers one after another.
        protocol.set_response_params(auto_decompress=False, read_bufsize=_READ_CHUNK)
        self._protocol = protocol
        self._last_used = time.monotonic()

    def _expire(self) -> None:
        self._expired = True
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            # The transport, not the protocol: ResponseHandler.abort() forgets the body
            # being read, whose reader would then never wake.
            protocol.transport.abort()

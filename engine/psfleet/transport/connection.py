"""One keep-alive HTTP/1.1 connection to a host: connect, post, reuse or drop.

A channel posts one SOAP message at a time over one pinned TCP connection: no pool,
no redirects, no cookies, no proxies, no compression. aiohttp's ClientSession does all
of that for every request anyway (0.75 ms of CPU per cold host here, a third of it;
benchmarks/library_floor.py), so this module drives a socket protocol of its own
(answer_reader: httptools' llhttp parser, a public API) and writes the request head
itself (request_head).

Every wait is bounded without cancelling the task: a request's deadline is one timer
that aborts the socket, and the reader's disconnect error then becomes the timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from psfleet.transport.answer_reader import AnswerReader
from psfleet.transport.failures import map_connect_error, map_exchange_error
from psfleet.transport.options import Endpoint
from psfleet.transport.request_head import RequestHead


@dataclass(frozen=True, slots=True)
class HTTPAnswer:
    status: int
    reason: str
    content_type: str
    www_authenticate: str | None  # every WWW-Authenticate header, joined with ", "
    body: bytes
    new_connection: bool  # the request went over a connection opened for it


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
        self._head = RequestHead(endpoint, self._port)
        self._reader: AnswerReader | None = None
        self._last_used = 0.0
        self._expired = False

    def __repr__(self) -> str:
        state = "open" if self.is_open() else "closed"
        return f"HTTPConnection({self._address!r}, port={self._port}, {state})"

    def is_open(self) -> bool:
        """Connected, and not idle so long that the host (or psfleet) has dropped it."""
        reader = self._reader
        if reader is None:
            return False
        if not reader.is_connected() or time.monotonic() - self._last_used > self._idle_timeout:
            self.close()
            return False
        return True

    async def open(self) -> None:
        """Connect now, if not connected (an auth handshake binds to the TLS certificate)."""
        if not self.is_open():
            await self._connect(self._connect_timeout)

    def peer_certificate(self) -> bytes | None:
        """The host's TLS certificate (DER) on the open connection; None on plain HTTP."""
        reader = self._reader
        if reader is None or reader.transport is None:
            return None
        ssl_object = reader.transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der: bytes | None = ssl_object.getpeercert(binary_form=True)
        return der

    async def post(
        self,
        body: bytes | list[bytes],
        *,
        timeout: float,  # noqa: ASYNC109 (a deadline timer, not a cancel scope: cheaper)
        content_type: str | None = None,
        authorization: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> HTTPAnswer:
        """One request and its whole answer within `timeout` seconds, connect included.
        `body` as a list of buffers is written in turn, not joined (a sealed Send)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        new_connection = not self.is_open()
        if new_connection:
            await self._connect(min(timeout, self._connect_timeout))
        reader = self._reader
        assert reader is not None and reader.transport is not None
        self._expired = False
        timer = loop.call_at(deadline, self._expire)
        try:
            answer = reader.expect_answer()
            parts = [body] if isinstance(body, bytes) else body
            length = sum(len(part) for part in parts)
            head = self._head.encode(length, content_type, authorization, extra_headers)
            reader.transport.writelines([head, *parts])
            raw = await answer
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
        if not raw.keep_alive:
            self.close()
        return HTTPAnswer(
            raw.status,
            raw.reason,
            raw.content_type,
            raw.www_authenticate,
            raw.body,
            new_connection,
        )

    def close(self) -> None:
        """Drop the connection now (its socket closes on the loop's next turn)."""
        reader, self._reader = self._reader, None
        if reader is not None and reader.transport is not None:
            reader.transport.close()

    async def aclose(self) -> None:
        """Close the connection and wait until its socket is closed."""
        reader = self._reader
        self.close()
        if reader is not None:
            with contextlib.suppress(Exception):  # a reset while closing is still closed
                await reader.closed

    async def _connect(self, timeout: float) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, reader = await loop.create_connection(
                    lambda: AnswerReader(loop),
                    self._address,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._server_hostname,
                )
        except Exception as exc:
            raise map_connect_error(exc, self._host, waited_s=timeout) from None
        self._reader = reader
        self._last_used = time.monotonic()

    def _expire(self) -> None:
        self._expired = True
        reader = self._reader
        if reader is not None and reader.transport is not None:
            reader.transport.abort()

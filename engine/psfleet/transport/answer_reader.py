"""Reads HTTP/1.1 answers off one socket with httptools (llhttp), one whole answer per request.

An asyncio protocol, not a stream: llhttp's callbacks collect the few headers psfleet
reads and the body, and the finished answer resolves the one pending request's future.
No flow control: every answer is read whole into memory anyway, so pausing the socket
would only add wake-ups.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import cast

import httptools

_DECODE = ("utf-8", "surrogateescape")  # as aiohttp decoded header values before


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    reason: str
    content_type: str
    www_authenticate: str | None  # every WWW-Authenticate header, joined with ", "
    body: bytes
    keep_alive: bool  # False: the host closes the connection after this answer


class AnswerReader(asyncio.Protocol):
    """The socket's protocol: feeds llhttp and hands each answer to the request awaiting it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = loop.create_future()
        self._waiter: asyncio.Future[Answer] | None = None
        self._start_answer()

    def _start_answer(self) -> None:
        self._reason: list[bytes] = []
        self._content_type = ""
        self._challenges: list[str] = []
        self._body: list[bytes] = []
        self._framed = False  # Content-Length or Transfer-Encoding seen
        self._until_close = False  # the body ends when the host closes the connection

    def is_connected(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def expect_answer(self) -> asyncio.Future[Answer]:
        """The future of the next answer; ask before writing the request."""
        waiter: asyncio.Future[Answer] = self._loop.create_future()
        self._waiter = waiter
        return waiter

    # --- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's do not subclass asyncio.Transport, hence no check).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._abort(exc)
        except httptools.HttpParserUpgrade:  # a 101 to a POST: no HTTP answer follows
            self._abort(httptools.HttpParserError("the host switched protocols"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._until_close:
            self.on_message_complete()  # llhttp has no end-of-input call in httptools
        # However the socket ended (FIN, reset, TLS alert, our abort), an unfinished answer
        # is a dropped connection; a timeout is told apart by whoever aborted.
        self._fail(ConnectionResetError("the connection closed before the answer was whole"))
        if not self.closed.done():
            self.closed.set_result(None)

    # --- llhttp callbacks (httptools calls only those defined) ---------------------

    def on_status(self, status: bytes) -> None:
        self._reason.append(status)  # may arrive in pieces

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-type":
            self._content_type = value.decode(*_DECODE)
        elif name == b"www-authenticate":
            # Windows sends one WWW-Authenticate header per scheme it offers.
            self._challenges.append(value.decode(*_DECODE))
        elif name in {b"content-length", b"transfer-encoding"}:
            self._framed = True

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        self._until_close = not self._framed and status >= 200 and status not in {204, 304}

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue and other interim answers: the real one follows
            self._start_answer()
            return
        answer = Answer(
            status,
            b"".join(self._reason).decode(*_DECODE),
            self._content_type,
            ", ".join(self._challenges) or None,
            b"".join(self._body),
            self._parser.should_keep_alive() and self.transport is not None,
        )
        self._start_answer()
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            # An answer nobody asked for: the stream is out of step, never reuse it.
            if self.transport is not None:
                self.transport.abort()
        elif not waiter.done():
            waiter.set_result(answer)

    # --- failures ------------------------------------------------------------------

    def _abort(self, exc: Exception) -> None:
        self._fail(exc)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

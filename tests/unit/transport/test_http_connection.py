"""HTTPConnection over real sockets: keep-alive, reconnects, deadlines and broken answers.

The servers are raw asyncio servers on 127.0.0.1 that write exact bytes, so each test
controls what the wire carries (chunked bodies, cut bodies, stalls, garbage). Each test
runs on asyncio's own loop and on uvloop (psfleet's default), whose transports differ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import psutil
import pytest

from psfleet import errors
from psfleet.transport.connection import HTTPConnection
from psfleet.transport.options import Endpoint

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    return ("asyncio", {"use_uvloop": request.param == "uvloop"})


Reply = Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]]  # -> keep the connection


@dataclass
class Server:
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)  # head and body of each request


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


@asynccontextmanager
async def serving(reply: Reply) -> AsyncIterator[Server]:
    server = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                server.requests.append(request)
                if not await reply(request, writer):
                    break
        finally:
            writer.close()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def client_sockets(port: int) -> int:
    """This process's established connections to the server's port (the client's ends)."""
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def ok(body: bytes = b"<answer/>", extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"
        + extra
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )


def connection(server: Server, *, idle: float = 60.0) -> HTTPConnection:
    endpoint = Endpoint("node01", address="127.0.0.1", port=server.port)
    return HTTPConnection(endpoint, None, connect_timeout=2.0, idle_timeout=idle)


async def test_requests_share_one_keep_alive_connection() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"<n>%d</n>" % len(request)))
        return True

    async with serving(answer) as server:
        http = connection(server)
        answers = [
            await http.post(b"x" * n, timeout=2.0, content_type="text/xml", authorization="T")
            for n in (0, 10, 100)
        ]
        await http.aclose()
        assert client_sockets(server.port) == 0
    assert [a.new_connection for a in answers] == [True, False, False]
    assert [a.status for a in answers] == [200, 200, 200]
    assert server.connections == 1
    head, _, body = server.requests[1].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /wsman HTTP/1.1"
    assert b"Host: 127.0.0.1:%d" % server.port in lines
    assert b"Authorization: T" in lines
    assert b"Content-Type: text/xml" in lines
    assert b"Content-Length: 10" in lines
    assert body == b"x" * 10


async def test_a_body_given_as_buffers_goes_out_as_their_concatenation() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        return True

    async with serving(answer) as server:
        http = connection(server)
        await http.post([b"<a>", b"x" * 70000, b"</a>"], timeout=2.0, content_type="text/xml")
        await http.post(b"<a>" + b"x" * 70000 + b"</a>", timeout=2.0, content_type="text/xml")
        await http.aclose()
    assert server.requests[0] == server.requests[1]
    assert b"Content-Length: 70007\r\n" in server.requests[0]


async def test_a_connection_the_server_closes_is_reopened_and_said_to_be_new() -> None:
    async def answer_then_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(extra=b"Connection: close\r\n"))
        return False

    async with serving(answer_then_close) as server:
        http = connection(server)
        first = await http.post(b"", timeout=2.0)
        second = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert (first.new_connection, second.new_connection) == (True, True)
    assert server.connections == 2


async def test_a_silently_dropped_keep_alive_connection_is_reopened() -> None:
    async def answer_then_drop(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        await writer.drain()
        return False  # no Connection: close header, the socket just goes away

    async with serving(answer_then_drop) as server:
        http = connection(server)
        await http.post(b"", timeout=2.0)
        await anyio.sleep(0.05)  # the FIN arrives
        assert not http.is_open()
        again = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert again.new_connection and again.status == 200


async def test_a_connection_idle_too_long_is_not_reused() -> None:
    async def answer(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok())
        return True

    async with serving(answer) as server:
        http = connection(server, idle=0.05)
        await http.post(b"", timeout=2.0)
        await anyio.sleep(0.1)
        again = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert again.new_connection
    assert server.connections == 2


async def test_chunked_bodies_and_repeated_auth_headers_are_read_whole() -> None:
    async def chunked(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\n"
            b"WWW-Authenticate: Kerberos\r\nWWW-Authenticate: CredSSP\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        return True

    async with serving(chunked) as server:
        http = connection(server)
        answer = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert answer.status == 401 and answer.reason == "Unauthorized"
    assert answer.www_authenticate == "Negotiate, Kerberos, CredSSP"
    assert answer.body == b"hello world"


async def test_a_large_answer_arrives_whole() -> None:
    body = bytes(range(256)) * 8192  # 2 MiB: the parser pauses and resumes the socket

    async def large(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(body))
        await writer.drain()
        return True

    async with serving(large) as server:
        http = connection(server)
        answer = await http.post(b"", timeout=5.0)
        await http.aclose()
    assert answer.body == body


async def test_a_stalled_answer_times_out_within_its_deadline_and_closes_the_socket() -> None:
    async def stall(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
        await writer.drain()
        await anyio.sleep(5)
        return False

    async with serving(stall) as server:
        http = connection(server)
        started = time.monotonic()
        with pytest.raises(errors.OperationTimeout) as raised:
            await http.post(b"", timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 1.5
        assert raised.value.retryable and raised.value.host == "node01"
        await anyio.sleep(0.05)
        assert not http.is_open()
        assert client_sockets(server.port) == 0


async def test_a_body_cut_short_is_a_connect_error() -> None:
    async def cut(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it")
        return False

    async with serving(cut) as server:
        http = connection(server)
        with pytest.raises(errors.ConnectError, match="closed during the request"):
            await http.post(b"", timeout=2.0)


async def test_an_answer_that_is_not_http_is_a_protocol_error() -> None:
    async def garbage(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        return True

    async with serving(garbage) as server:
        http = connection(server)
        with pytest.raises(errors.ProtocolError, match="not valid HTTP"):
            await http.post(b"", timeout=2.0)
        assert not http.is_open()


async def test_a_refused_connection_is_a_retryable_connect_error() -> None:
    async with serving(lambda request, writer: asyncio.sleep(0, True)) as server:
        port = server.port
    http = HTTPConnection(
        Endpoint("node01", address="127.0.0.1", port=port),
        None,
        connect_timeout=2.0,
        idle_timeout=60.0,
    )
    with pytest.raises(errors.ConnectError, match="cannot connect") as raised:
        await http.post(b"", timeout=2.0)
    assert raised.value.retryable and not isinstance(raised.value, errors.TLSError)


async def test_a_cancelled_request_drops_its_connection() -> None:
    release = anyio.Event()

    async def slow(request: bytes, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(ok())
        return True

    async with serving(slow) as server:
        http = connection(server)
        with anyio.move_on_after(0.1):
            await http.post(b"", timeout=5.0)
        assert not http.is_open()  # a late answer must never be read as the next one's
        release.set()
        again = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert again.new_connection and server.connections == 2


async def test_a_401_keeps_the_connection_for_the_next_handshake_leg() -> None:
    replies = iter([b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM abc\r\n"
                    b"Content-Length: 0\r\n\r\n", ok()])  # fmt: skip

    async def challenge_then_ok(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(next(replies))
        return True

    async with serving(challenge_then_ok) as server:
        http = connection(server)
        challenged = await http.post(b"", timeout=2.0, authorization="NTLM one")
        accepted = await http.post(b"", timeout=2.0, authorization="NTLM two")
        await http.aclose()
    assert (challenged.status, challenged.www_authenticate, challenged.body) == (
        401,
        "NTLM abc",
        b"",
    )
    assert (accepted.status, accepted.new_connection) == (200, False)
    assert server.connections == 1


async def test_an_answer_without_length_ends_when_the_host_closes() -> None:
    async def until_close(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it")
        return False

    async with serving(until_close) as server:
        http = connection(server)
        answer = await http.post(b"", timeout=2.0)
        assert not http.is_open()
        again = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert (answer.status, answer.content_type, answer.body) == (200, "text/plain", b"all of it")
    assert again.new_connection and server.connections == 2


async def test_an_interim_100_continue_is_skipped_for_the_real_answer() -> None:
    async def continue_then_ok(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"<real/>"))
        return True

    async with serving(continue_then_ok) as server:
        http = connection(server)
        answer = await http.post(b"", timeout=2.0)
        again = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert (answer.status, answer.body) == (200, b"<real/>")
    assert not again.new_connection


async def test_an_answer_nobody_asked_for_drops_the_connection() -> None:
    async def answer_twice(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(ok(b"<first/>") + ok(b"<stray/>"))  # one segment: read in one go
        return True

    async with serving(answer_twice) as server:
        http = connection(server)
        first = await http.post(b"", timeout=2.0)
        # The stray answer must never be read as the next request's.
        assert not http.is_open()
        second = await http.post(b"", timeout=2.0)
        await http.aclose()
    assert (first.body, second.body) == (b"<first/>", b"<first/>")
    assert second.new_connection and server.connections == 2


async def test_a_switch_of_protocols_is_a_protocol_error() -> None:
    async def upgrade(request: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
                     b"Connection: Upgrade\r\n\r\n\x00\x00")  # fmt: skip
        return True

    async with serving(upgrade) as server:
        http = connection(server)
        with pytest.raises(errors.ProtocolError, match="not valid HTTP"):
            await http.post(b"", timeout=2.0)
        assert not http.is_open()

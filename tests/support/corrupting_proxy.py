"""A TCP proxy in front of simulated hosts that corrupts exactly one HTTP answer per host.

Each host gets its own listening address; requests pass through untouched, answers are
read one by one (simfleet always sends Content-Length) and the host's planned answer is
mangled in one of the ways a broken middlebox, a flaky NIC or a crashed service mangles
them. Every answer is logged per host, so a test can tell what each client saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

_HEAD_END = b"\r\n\r\n"
_GARBAGE_XML = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><rsp:Shell '


class Mutation(enum.StrEnum):
    TRUNCATED = "truncated"  # the body's second half dropped, Content-Length to match
    FLIPPED = "flipped"  # eight bytes in the middle of the body inverted
    BAD_BASE64 = "bad_base64"  # the auth token in WWW-Authenticate cut to an impossible length
    GARBAGE_500 = "garbage_500"  # replaced by a 500 whose body is binary noise
    GARBAGE_XML = "garbage_xml"  # the body replaced by unfinished plain XML
    CUT = "cut"  # the connection closed halfway through the body


@dataclass(frozen=True, slots=True)
class Corruption:
    kind: Mutation
    answer: int  # which answer to this host, counting from 1 across its connections
    # Afterwards every connection to this host is closed at once: nothing gets through.
    then_unreachable: bool = False


@dataclass(slots=True)
class Answer:
    status: int
    corrupted: Mutation | None


@dataclass(slots=True)
class _Route:
    upstream: tuple[str, int]
    corruption: Corruption | None
    answers: list[Answer] = field(default_factory=list)
    severed: bool = False


class CorruptingProxy:
    """`async with CorruptingProxy(routes, plans, port=P)`: listen on every route's address.

    `routes` maps a listening address to the (address, port) of the host behind it;
    `plans` maps a listening address to the one answer to corrupt there.
    """

    def __init__(
        self,
        routes: Mapping[str, tuple[str, int]],
        plans: Mapping[str, Corruption],
        *,
        port: int,
    ) -> None:
        self.port = port
        self._routes = {
            address: _Route(upstream, plans.get(address)) for address, upstream in routes.items()
        }
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()

    def answers(self, address: str) -> list[Answer]:
        """What the client at `address` was answered, in order."""
        return list(self._routes[address].answers)

    async def __aenter__(self) -> CorruptingProxy:
        try:
            for address, route in self._routes.items():
                serve = functools.partial(self._serve, route)
                self._servers.append(await asyncio.start_server(serve, address, self.port))
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()

    async def _serve(
        self, route: _Route, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        self._writers.add(client_out)
        if route.severed:
            client_out.transport.abort()
            self._writers.discard(client_out)
            return
        try:
            upstream_in, upstream_out = await asyncio.open_connection(*route.upstream)
        except OSError:
            client_out.transport.abort()
            self._writers.discard(client_out)
            return
        self._writers.add(upstream_out)
        try:
            async with asyncio.TaskGroup() as group:
                requests = group.create_task(_pipe(client_in, upstream_out))
                await self._answers(route, upstream_in, client_out)
                requests.cancel()
        except* (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # either side went away: so does the other
        finally:
            for writer in (client_out, upstream_out):
                writer.transport.abort()
                self._writers.discard(writer)

    async def _answers(
        self, route: _Route, upstream: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        while True:
            try:
                head = await upstream.readuntil(_HEAD_END)
            except asyncio.IncompleteReadError:
                return  # the host closed the connection between answers
            length = _content_length(head)
            body = await upstream.readexactly(length)
            route.answers.append(Answer(_status(head), None))
            planned = route.corruption
            if planned is not None and planned.answer == len(route.answers):
                route.answers[-1].corrupted = planned.kind
                route.severed = planned.then_unreachable
                if planned.kind is Mutation.CUT:
                    client.write(head + body[: len(body) // 2])
                    await client.drain()
                    return
                head, body = corrupt(planned.kind, head, body)
            client.write(head + body)
            await client.drain()
            if route.severed:
                client.close()  # after the corrupted answer is out: abort() would drop it
                await client.wait_closed()
                return


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(65536):
        sink.write(data)
        await sink.drain()
    with contextlib.suppress(OSError):
        sink.write_eof()


def corrupt(kind: Mutation, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """One answer (head with its blank line, body) mangled as `kind` says."""
    if kind is Mutation.TRUNCATED:
        return _with_length(head, len(body) // 2), body[: len(body) // 2]
    if kind is Mutation.FLIPPED:
        middle = len(body) // 2
        flipped = bytes(byte ^ 0xFF for byte in body[middle : middle + 8])
        return head, body[:middle] + flipped + body[middle + 8 :]
    if kind is Mutation.BAD_BASE64:
        return b"\r\n".join(_cut_token(line) for line in head.split(b"\r\n")), body
    if kind is Mutation.GARBAGE_500:
        noise = bytes(range(256)) * 4
        garbage = b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\n"
        return _with_length(garbage, len(noise)), noise
    if kind is Mutation.GARBAGE_XML:
        plain = _replace_header(head, b"Content-Type", b"application/soap+xml;charset=UTF-8")
        return _with_length(plain, len(_GARBAGE_XML)), _GARBAGE_XML
    raise ValueError(f"{kind} is not a rewrite of the answer")


def _cut_token(line: bytes) -> bytes:
    """`WWW-Authenticate: Scheme TOKEN` with TOKEN still base64 letters, but 4k+1 of them."""
    name, _, value = line.partition(b":")
    scheme, _, token = value.strip().partition(b" ")
    if name.strip().lower() != b"www-authenticate" or not token:
        return line
    letters = token.rstrip(b"=")
    return name + b": " + scheme + b" " + letters[: (len(letters) - 1) // 4 * 4 + 1]


def _status(head: bytes) -> int:
    return int(head.split(b" ", 2)[1])


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _with_length(head: bytes, length: int) -> bytes:
    return _replace_header(head, b"Content-Length", str(length).encode("ascii"))


def _replace_header(head: bytes, name: bytes, value: bytes) -> bytes:
    lines = [
        line
        for line in head[: -len(_HEAD_END)].split(b"\r\n")
        if line.partition(b":")[0].strip().lower() != name.lower()
    ]
    lines.append(name + b": " + value)
    return b"\r\n".join(lines) + _HEAD_END

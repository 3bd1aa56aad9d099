"""A WinRM server that plays a recorded Windows exchange back to a live client.

For each request, the server answers the next recorded response, after checking the
request does the same operation (the WSMan action) and rewriting the recorded
GUIDs to the client's own: MessageID -> RelatesTo, ShellId, CommandId, and the
RunspacePool/pipeline ids inside the base64 PSRP fragments. A client that decodes
the replayed answers sees exactly what Windows produced. No authentication.

    async with ReplayServer("test_psrp_open_runspace") as server:
        async with psfleet.connect("127.0.0.1", port=server.port, auth="basic", ...) as pool:
            ...
    assert server.mismatches == [] and server.unplayed == []
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
import struct
from collections.abc import Iterable
from types import TracebackType

from aiohttp import web

from psfleet.wsman import Envelope, names, parse_envelope, shell
from psfleet.wsman.faults import FaultCode, build_fault
from tests.support.captures import Exchange, load_capture

_FRAGMENT_HEADER = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
_START = 0x1
_STREAM = re.compile(rb"(<rsp:Stream\b[^>]*>)([A-Za-z0-9+/=]*)(</rsp:Stream>)")


class ReplayServer:
    """Serves one capture on 127.0.0.1 (an ephemeral port), over TLS with `ssl_context`."""

    def __init__(
        self,
        capture: str | list[Exchange],
        *,
        skip: Iterable[int] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        exchanges = load_capture(capture) if isinstance(capture, str) else capture
        skipped = set(skip)
        self._script = [e for i, e in enumerate(exchanges) if i not in skipped]
        self._next = 0
        self._text_ids: dict[str, str] = {}  # recorded GUID text -> the client's
        self._psrp_ids: dict[bytes, bytes] = {}  # recorded 16-byte ids -> the client's
        self.mismatches: list[str] = []
        self.actions: list[str] = []  # what the client asked for, in order
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self.peer_certificates: list[dict[str, object] | None] = []  # TLS client certificates
        self._ssl_context = ssl_context
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def unplayed(self) -> list[str]:
        """Recorded requests the client never made."""
        return [_short(parse_envelope(e.request).action) for e in self._script[self._next :]]

    async def __aenter__(self) -> ReplayServer:
        app = web.Application()
        app.router.add_post("/wsman", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        await web.SockSite(self._runner, listener, ssl_context=self._ssl_context).start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        data = await request.read()
        self.authorizations.append(request.headers.get("Authorization"))
        transport = request.transport
        self.peer_certificates.append(transport.get_extra_info("peercert") if transport else None)
        if not data:
            return web.Response(status=200)
        client = parse_envelope(data)
        self.actions.append(_short(client.action))
        if self._next >= len(self._script):
            return self._refuse(client, "the capture has no more exchanges")
        exchange = self._script[self._next]
        recorded = parse_envelope(exchange.request)
        if recorded.action != client.action:
            return self._refuse(
                client, f"expected {_short(recorded.action)}, got {_short(client.action)}"
            )
        self._next += 1
        self._learn(recorded, client, parse_envelope(exchange.response))
        body = self._rewrite(exchange.response.encode("utf-8"), client.message_id)
        status = 500 if parse_envelope(body).is_fault else 200
        return web.Response(
            status=status, body=body, content_type="application/soap+xml", charset="utf-8"
        )

    def _refuse(self, client: Envelope, why: str) -> web.Response:
        self.mismatches.append(f"request {len(self.actions)}: {why}")
        fault = build_fault(
            FaultCode.INTERNAL_ERROR,
            f"replay: {why}",
            relates_to=client.message_id,
            machine="replay",
        )
        return web.Response(status=500, body=fault, content_type="application/soap+xml")

    def _learn(self, recorded: Envelope, client: Envelope, response: Envelope) -> None:
        """Pair the ids the recording used with those this client chose."""
        self._text_ids[recorded.message_id] = client.message_id
        if recorded.action == names.ACTION_CREATE:
            created = shell.parse_create(client.body)
            if created.shell_id:
                self._text_ids[shell.parse_create_response(response.body)] = created.shell_id
            original = shell.parse_create(recorded.body).creation_xml
            if original and created.creation_xml:
                self._pair_psrp_ids(original, created.creation_xml, offset=8)
        elif recorded.action == names.ACTION_COMMAND and not response.is_fault:
            line = shell.parse_command(client.body)
            if line.command_id:
                self._text_ids[shell.parse_command_response(response.body)] = line.command_id
            original_args = shell.parse_command(recorded.body).arguments
            if recorded.resource_uri != names.RESOURCE_CMD and original_args and line.arguments:
                self._pair_psrp_ids(
                    base64.b64decode(original_args[0]),
                    base64.b64decode(line.arguments[0]),
                    offset=24,
                )

    def _pair_psrp_ids(self, recorded: bytes, client: bytes, *, offset: int) -> None:
        """The first message's header holds the RunspacePool id (offset 8) and pipeline id (24)."""
        header = _FRAGMENT_HEADER.size
        start = header + offset
        self._psrp_ids[recorded[start : start + 16]] = client[start : start + 16]

    def _rewrite(self, response: bytes, relates_to: str) -> bytes:
        for recorded, mine in self._text_ids.items():
            for form in {recorded, recorded.upper(), recorded.lower()}:
                response = response.replace(form.encode(), mine.encode())
        return _STREAM.sub(lambda m: m[1] + self._rewrite_fragments(m[2]) + m[3], response)

    def _rewrite_fragments(self, text: bytes) -> bytes:
        data = bytearray(base64.b64decode(text))
        position = 0
        while position + _FRAGMENT_HEADER.size <= len(data):
            _, _, flags, length = _FRAGMENT_HEADER.unpack_from(data, position)
            message = position + _FRAGMENT_HEADER.size
            if flags & _START:
                for at in (message + 8, message + 24):
                    ident = bytes(data[at : at + 16])
                    data[at : at + 16] = self._psrp_ids.get(ident, ident)
            position = message + length
        return base64.b64encode(bytes(data))


def _short(action: str) -> str:
    return action.rsplit("/", 1)[-1]

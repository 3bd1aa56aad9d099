"""The aiohttp front of the simulated fleet: one app serving every host's address.

Order per request: find the host by the local address the client connected to,
apply its injected fault, authenticate (per connection), decrypt, dispatch,
encrypt. Nothing a client sends can raise out of here: it becomes a fault or a 4xx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from psfleet.errors import ProtocolError
from psfleet.simfleet.auth import ConnectionAuth
from psfleet.simfleet.faults import FaultKind
from psfleet.simfleet.host import HostRuntime
from psfleet.simfleet.service import DropConnection, Reply, WSManService
from psfleet.simfleet.stats import Counter, FleetStats
from psfleet.transport import framing
from psfleet.wsman import build_fault, parse_envelope
from psfleet.wsman.faults import FaultCode
from psfleet.wsman.identify import build_identify_response, is_identify

_SOAP_TYPE = "application/soap+xml;charset=UTF-8"


class FleetApp:
    def __init__(
        self,
        hosts_by_address: dict[str, HostRuntime],
        service: WSManService,
        stats: Callable[[], FleetStats],
        snapshot: Callable[[str | None], dict[str, Any]],
        *,
        rtt_s: float,
        started_at: float,
    ) -> None:
        self._hosts = hosts_by_address
        self._service = service
        self._stats = stats
        self._snapshot = snapshot  # what /stats answers (the fleet's stats())
        self._rtt_s = rtt_s
        self._started_at = started_at
        self._connections = _ConnectionTable()
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.router.add_get("/stats", self._stats_view)
        self.app.router.add_post("/wsman", self._wsman_view)
        self.app.router.add_post("/wsman/{configuration}", self._wsman_view)

    def _host(self, request: web.Request) -> HostRuntime:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        host = self._hosts.get(sockname[0]) if sockname else None
        if host is None:
            raise web.HTTPNotFound(text="no simulated host at this address")
        return host

    async def _stats_view(self, request: web.Request) -> web.Response:
        self._host(request)
        stats = self._stats()
        only = request.query.get("host")
        if only is not None and not stats.knows(only):
            raise web.HTTPNotFound(text=f"unknown host {only}")
        return web.json_response(self._snapshot(only), dumps=json.dumps)

    async def _wsman_view(self, request: web.Request) -> web.StreamResponse:
        host = self._host(request)
        body = await request.read()
        # The request has arrived: like Windows, the host acts on it even if the client
        # leaves while it is in flight (the RTT wait below), only the answer is lost.
        transport = request.transport
        host.count(Counter.REQUESTS)
        host.count(Counter.BYTES_IN, len(body))
        injected = await self._inject(host, request)
        if injected is not None:
            return injected
        if self._rtt_s:
            await asyncio.sleep(self._rtt_s)
        if _is_anonymous_identify(request, body):
            response: web.StreamResponse = _response(
                200,
                build_identify_response(f"OS: {host.facts.os_version} SP: 0.0 Stack: 3.0"),
                None,
            )
        else:
            response = await self._authenticated(host, request, body, transport)
        host.count(Counter.BYTES_OUT, response.content_length or 0)
        return response

    async def _inject(self, host: HostRuntime, request: web.Request) -> web.StreamResponse | None:
        fault = host.fault
        if fault.kind in (FaultKind.DELAY, FaultKind.SLOW):
            await asyncio.sleep(fault.param / 1000)
        elif fault.kind is FaultKind.HTTP500:
            return web.Response(status=500, reason="Internal Server Error")
        elif (
            fault.kind is FaultKind.HTTP503
            and host.stats.host(host.name)["requests"] <= fault.param
        ):
            return web.Response(
                status=503, reason="Service Unavailable", headers={"Retry-After": "1"}
            )
        elif (
            fault.kind is FaultKind.FLAP
            and asyncio.get_running_loop().time() - self._started_at < fault.param
        ):
            return _cut(request)
        return None

    async def _authenticated(
        self,
        host: HostRuntime,
        request: web.Request,
        body: bytes,
        transport: asyncio.Transport | None,
    ) -> web.StreamResponse:
        if transport is None:  # the client left before its request was read
            return web.Response(status=400)
        conn = self._connections.get(transport)
        if conn is None:
            conn = ConnectionAuth(peer_certificate=_peer_certificate(transport))
            self._connections.add(transport, conn)
        header = request.headers.get("Authorization")
        extra_header: str | None = None
        if header:
            if host.fault.kind is FaultKind.AUTHFAIL:
                host.count(Counter.AUTH_FAILURES)
                return self._unauthorized(host)
            step = host.policy.step(header, conn)
            if step.failed:
                host.count(Counter.AUTH_FAILURES)
            if step.status == 401:
                return self._unauthorized(host, step.www_authenticate)
            extra_header = step.www_authenticate
        if conn.identity is None:
            return self._unauthorized(host)
        content_type = request.headers.get("Content-Type", "")
        encrypted = framing.is_encrypted(content_type)
        if encrypted:
            if conn.cipher is None:
                return web.Response(status=400, text="no security context to decrypt with")
            try:
                body = framing.unwrap(conn.cipher, body)
            except ProtocolError:
                return web.Response(status=400, text="the message could not be decrypted")
        elif (
            body
            and conn.cipher is not None
            and not (host.policy.tls or host.policy.allow_unencrypted)
        ):
            # AllowUnencrypted=false: a plain body over HTTP is refused, as on Windows.
            host.count(Counter.AUTH_FAILURES)
            return self._unauthorized(host)
        if not body:
            return _response(200, b"", extra_header)
        try:
            reply = await self._dispatch(host, conn, body, request)
        except DropConnection:
            return _cut(request)
        if encrypted:
            wrapped_type, wrapped = framing.wrap(conn.cipher, conn.encryption_protocol, reply.body)
            return _response(reply.status, wrapped, extra_header, wrapped_type)
        return _response(reply.status, reply.body, extra_header)

    async def _dispatch(
        self, host: HostRuntime, conn: ConnectionAuth, body: bytes, request: web.Request
    ) -> Reply:
        assert conn.identity is not None
        if len(body) > host.quotas.max_envelope_size:
            return _fault(
                host,
                FaultCode.ENVELOPE_TOO_LARGE,
                "The WS-Management service cannot process the request because the request "
                f"packet size exceeds the maximum envelope size ({host.quotas.max_envelope_size}).",
            )
        try:
            envelope = parse_envelope(body)
        except ProtocolError as exc:
            return _fault(
                host,
                FaultCode.INVALID_XML,
                "The WS-Management service cannot process the request because the XML is "
                f"invalid. {exc.message}",
            )
        return await self._service.handle(host, conn.identity, envelope, request.remote or "")

    def _unauthorized(self, host: HostRuntime, value: str | None = None) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict()
        for offer in [value] if value else host.policy.offered():
            headers.add("WWW-Authenticate", offer)
        return web.Response(status=401, headers=headers)


def _fault(host: HostRuntime, code: int, message: str) -> Reply:
    """A fault for a request too broken to have a MessageID to relate to."""
    host.count(Counter.FAULTS)
    return Reply(500, build_fault(code, message, relates_to="", machine=host.facts.address))


def _response(
    status: int, body: bytes, auth_header: str | None, content_type: str = _SOAP_TYPE
) -> web.Response:
    headers: dict[str, str] = {"Content-Type": content_type} if body else {}
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    return web.Response(status=status, body=body, headers=headers)


class _ConnectionTable:
    """The auth state of each open connection, keyed by its transport.

    Not a WeakKeyDictionary: uvloop's TLS transports cannot be weakly referenced. Closed
    connections are dropped whenever the table has doubled since the last sweep, so
    the cost stays constant per connection and the table never outgrows the open ones
    by more than twice.
    """

    def __init__(self) -> None:
        self._by_transport: dict[asyncio.BaseTransport, ConnectionAuth] = {}
        self._sweep_at = 64

    def get(self, transport: asyncio.BaseTransport) -> ConnectionAuth | None:
        return self._by_transport.get(transport)

    def add(self, transport: asyncio.BaseTransport, conn: ConnectionAuth) -> None:
        self._by_transport[transport] = conn
        if len(self._by_transport) >= self._sweep_at:
            self._by_transport = {t: c for t, c in self._by_transport.items() if not t.is_closing()}
            self._sweep_at = max(64, 2 * len(self._by_transport))

    def __len__(self) -> int:
        return len(self._by_transport)


def _peer_certificate(transport: asyncio.Transport) -> bytes | None:
    """The client's TLS certificate (DER), verified by the handshake; None on plain HTTP."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der


def _cut(request: web.Request) -> web.Response:
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=500)


def _is_anonymous_identify(request: web.Request, body: bytes) -> bool:
    """Identify with `WSMANIDENTIFY: unauthenticated`: Windows answers it without a login."""
    if request.headers.get("WSMANIDENTIFY", "").lower() != "unauthenticated" or not body:
        return False
    try:
        return is_identify(parse_envelope(body).body)
    except ProtocolError:
        return False

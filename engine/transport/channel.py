"""One keep-alive TCP connection to a host and the authentication bound to it.

NTLM, Negotiate, Kerberos and CredSSP authenticate a TCP connection, not a request,
so a channel pins one connection (an aiohttp connector with limit=1) and serves one
request at a time (HostTransport lends it to one request at a time). When aiohttp had
to open a new connection (the server closed the old one, or a request was cancelled
mid-flight), the server has lost the context: the channel authenticates again and
resends, once.

The handshake legs carry no body, except the last one when the client finishes
first (NTLM, CredSSP): the message rides with the final token, sealed with the
context it completes, which saves a round trip per connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiohttp
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.tracing import Trace

from psfleet.errors import AuthError, ConnectError
from psfleet.transport import framing
from psfleet.transport.auth import SecurityContext, static_authorization
from psfleet.transport.failures import map_client_error, status_error
from psfleet.transport.options import AuthOptions, Endpoint, Timeouts, TLSOptions, Wait
from psfleet.transport.tls import ssl_context

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_MAX_HANDSHAKE_LEGS = 8  # CredSSP takes up to six; NTLM two


class _CountingConnector(aiohttp.TCPConnector):
    """Counts the TCP connections it opens: a new one means the server lost the auth context.

    Cheaper than aiohttp's tracing, whose signals cost ~7% of a request's CPU. Overrides
    a protected method of aiohttp (pinned; tests/integration/client reconnect tests).
    """

    opened = 0

    async def _create_connection(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (aiohttp's signature)
    ) -> ResponseHandler:
        protocol = await super()._create_connection(req, traces, timeout)
        self.opened += 1
        return protocol


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    reason: str
    content_type: str
    www_authenticate: str | None
    body: bytes
    new_connection: bool


class Channel:
    """Send WSMan messages to one host over one authenticated connection."""

    def __init__(
        self, endpoint: Endpoint, auth: AuthOptions, tls: TLSOptions, timeouts: Timeouts
    ) -> None:
        self._endpoint = endpoint
        self._auth = auth
        self._timeouts = timeouts
        self._url = endpoint.url
        self._encrypt = auth.method.connection_bound and not endpoint.tls
        self._static_authorization: str | None = None
        if not auth.method.connection_bound:
            self._static_authorization = static_authorization(endpoint, auth)
        self._server_hostname = endpoint.host if endpoint.tls and endpoint.address else None
        self._connector = connector = _CountingConnector(
            limit=1,
            ssl=ssl_context(tls) if endpoint.tls else False,
            keepalive_timeout=timeouts.idle,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect),
            headers={"User-Agent": "psfleet", "Accept-Encoding": "identity"},
        )
        # Each HTTP exchange is bounded by aiohttp's own timeout (a cancel scope per
        # request cost twice as much CPU); an auth handshake's legs are bounded one by one.
        self._timeouts_by_wait = {
            wait: aiohttp.ClientTimeout(total=timeouts.seconds(wait), sock_connect=timeouts.connect)
            for wait in Wait
        }
        self._timeout = self._timeouts_by_wait[Wait.REQUEST]
        self._context: SecurityContext | None = None
        self._idle_until = 0.0  # after this, aiohttp has closed the idle connection
        self._eager = True  # send the message with the last handshake leg

    def __repr__(self) -> str:
        return f"Channel({self._url!r}, auth={self._auth.method.value!r})"

    async def request(self, message: bytes, *, wait: Wait = Wait.REQUEST) -> bytes:
        """Post one SOAP message and return the SOAP answer; errors are psfleet errors."""
        self._timeout = self._timeouts_by_wait[wait]
        if self._context is not None and time.monotonic() > self._idle_until:
            self._context = None  # the connection timed out idle: authenticate a new one
        try:
            answer = await self._exchange(message)
            self._idle_until = time.monotonic() + self._timeouts.idle * 0.9
        except BaseException as exc:
            # The connection's state is unknown (and NTLM sequence numbers with it).
            self._context = None
            if isinstance(exc, Exception):
                waited = self._timeout.total or 0.0
                raise map_client_error(exc, self._endpoint.host, waited_s=waited) from None
            raise
        if answer.status != 200:
            raise status_error(answer.status, answer.reason, answer.body, self._endpoint.host)
        return answer.body

    async def aclose(self) -> None:
        self._context = None
        await self._session.close()

    async def _exchange(self, message: bytes) -> _Answer:
        if self._static_authorization is not None:
            headers = {
                "Authorization": self._static_authorization,
                "Content-Type": SOAP_CONTENT_TYPE,
            }
            return await self._post(message, headers)
        if self._context is None:
            return await self._authenticate(message)
        answer = await self._post_sealed(self._context, message)
        if answer.new_connection or answer.status == 401:
            # The server holds no context for this connection: authenticate again, resend once.
            return await self._authenticate(message)
        return answer

    async def _post_sealed(
        self, context: SecurityContext, message: bytes, authorization: str | None = None
    ) -> _Answer:
        headers = {"Authorization": authorization} if authorization else {}
        if not self._encrypt:
            headers["Content-Type"] = SOAP_CONTENT_TYPE
            return await self._post(message, headers)
        content_type, body = framing.wrap(context.cipher, context.encryption_protocol, message)
        headers["Content-Type"] = content_type
        answer = await self._post(body, headers)
        if not framing.is_encrypted(answer.content_type):
            return answer
        plain = framing.unwrap(context.cipher, answer.body)
        return _Answer(
            answer.status,
            answer.reason,
            SOAP_CONTENT_TYPE,
            answer.www_authenticate,
            plain,
            answer.new_connection,
        )

    async def _authenticate(self, message: bytes) -> _Answer:
        """Authenticate the connection, then send `message` (with the last leg if it can)."""
        self._context = None
        context = SecurityContext(self._endpoint, self._auth, encrypt=self._encrypt)
        header = context.first_header()
        for leg in range(_MAX_HANDSHAKE_LEGS):
            carrying = self._eager and context.complete  # the message goes with this leg
            if carrying:
                answer = await self._post_sealed(context, message, authorization=header)
            else:
                answer = await self._post(b"", {"Authorization": header})
            if leg > 0 and answer.new_connection:
                raise ConnectError(
                    "the host closed the connection during authentication", host=self._endpoint.host
                )
            if answer.status == 401:
                next_header = None if carrying else context.next_header(answer.www_authenticate)
                if next_header is None:
                    raise AuthError(self._rejected(), host=self._endpoint.host)
                header = next_header
                continue
            if answer.status != 200 and not carrying:
                raise status_error(answer.status, answer.reason, answer.body, self._endpoint.host)
            if not context.complete:
                # The last token (Kerberos mutual auth, SPNEGO mechListMIC) rides on the 200.
                context.next_header(answer.www_authenticate)
            if not context.complete:
                raise AuthError(
                    "the host accepted an unfinished handshake", host=self._endpoint.host
                )
            if carrying and not answer.body:
                # The host ignored the body of an auth leg: it was sealed with a sequence
                # number the host never saw, so start over with empty-bodied legs only.
                self._eager = False
                return await self._authenticate(message)
            self._context = context
            if carrying:
                return answer
            return await self._post_sealed(context, message)
        raise AuthError("the auth handshake did not finish", host=self._endpoint.host)

    def _rejected(self) -> str:
        method = self._auth.method
        user = self._auth.credential.username if self._auth.credential else None
        who = f" for {user}" if user else ""
        return f"the host rejected the {method.value} credentials{who}"

    async def _post(self, body: bytes, headers: dict[str, str]) -> _Answer:
        opened_before = self._connector.opened
        async with self._session.post(
            self._url,
            data=body,
            headers=headers,
            server_hostname=self._server_hostname,
            allow_redirects=False,
            timeout=self._timeout,
        ) as response:
            data = await response.read()
            return _Answer(
                response.status,
                response.reason or "",
                response.headers.get("Content-Type", ""),
                # Windows sends one WWW-Authenticate header per scheme it offers.
                ", ".join(response.headers.getall("WWW-Authenticate", [])) or None,
                data,
                self._connector.opened != opened_before,
            )

"""One keep-alive TCP connection to a host and the authentication bound to it.

NTLM, Negotiate, Kerberos and CredSSP authenticate a TCP connection, not a request,
so a channel pins one connection (HTTPConnection) and serves one request at a time
(HostTransport lends it to one request at a time). When the connection had to be
opened again (the server closed the old one, it sat idle too long, or a request was
cancelled mid-flight), the server has lost the context: the channel authenticates
again and resends, once.

The channel drives a handshake.Handshake, which decides every leg: the channel sends
them, runs the context's steps (off the event loop when they may wait on a KDC) and
takes the lockout guard's turn when a leg presents a proof. The legs carry no body,
except the last one when the client finishes first (NTLM, CredSSP): the message rides
with the final token, sealed with the context it completes.
"""

from __future__ import annotations

import contextlib

from spnego.channel_bindings import GssChannelBindings

from psfleet.errors import AuthError
from psfleet.transport import framing
from psfleet.transport.auth import SecurityContext, binds_to_tls, static_authorization
from psfleet.transport.bindings import tls_server_end_point
from psfleet.transport.connection import HTTPAnswer, HTTPConnection
from psfleet.transport.credentials import AuthPlan, Presentation
from psfleet.transport.failures import status_error
from psfleet.transport.handshake import Action, Fail, Handshake, Send, StartOver, Step
from psfleet.transport.options import AuthMethod, AuthOptions, Endpoint, Timeouts, TLSOptions, Wait
from psfleet.transport.receipt import Receipt
from psfleet.transport.tls import ssl_context

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"


class Channel:
    """Send WSMan messages to one host over one authenticated connection."""

    def __init__(
        self, endpoint: Endpoint, auth: AuthOptions, tls: TLSOptions, timeouts: Timeouts
    ) -> None:
        self._endpoint = endpoint
        self._auth = auth
        # Every channel of a host has the same broker: the run's, or the host's own when alone.
        assert auth.broker is not None, "a Channel needs AuthOptions with a broker"
        self._broker = auth.broker
        self._timeouts = timeouts
        self._url = endpoint.url
        self._encrypt = auth.method.connection_bound and not endpoint.tls
        self._binds_to_tls = binds_to_tls(endpoint, auth)
        self._static_authorization: str | None = None
        if not auth.method.connection_bound:
            self._static_authorization = static_authorization(endpoint, auth)
        self._connection = HTTPConnection(
            endpoint,
            ssl_context(tls) if endpoint.tls else None,
            connect_timeout=timeouts.connect,
            # HTTP.sys drops an idle connection at 120 s; leave before it does.
            idle_timeout=timeouts.idle,
        )
        self._timeout = timeouts.request
        self._context: SecurityContext | None = None
        self._plan: AuthPlan | None = None  # the plan of the last handshake, until released
        self._eager = True  # send the message with the last handshake leg
        self._receipt: Receipt | None = None

    def __repr__(self) -> str:
        return f"Channel({self._url!r}, auth={self._auth.method.value!r})"

    async def request(
        self, message: bytes, *, wait: Wait = Wait.REQUEST, receipt: Receipt | None = None
    ) -> bytes:
        """Post one SOAP message and return the SOAP answer; errors are psfleet errors.

        `receipt.sent` is set when the message itself goes out (not a bodiless auth leg).
        """
        self._timeout = self._timeouts.seconds(wait)
        self._receipt = receipt
        if self._context is not None and not self._connection.is_open():
            self._context = None  # closed or idle too long: authenticate a new connection
        try:
            answer = await self._exchange(message)
        except BaseException:
            # The connection's state is unknown (and NTLM sequence numbers with it).
            self._context = None
            raise
        if answer.status != 200:
            raise status_error(answer.status, answer.reason, answer.body, self._endpoint.host)
        return answer.body

    async def aclose(self) -> None:
        self._context = None
        self._release_plan()
        await self._connection.aclose()

    def _release_plan(self) -> None:
        """Give back the last handshake's ticket cache (its context is no longer used)."""
        if self._plan is not None:
            self._broker.gate(self._auth).release(self._plan)
            self._plan = None

    async def _exchange(self, message: bytes) -> HTTPAnswer:
        if self._static_authorization is not None:
            return await self._post_static(message, self._static_authorization)
        if self._context is None:
            return await self._authenticate(message)
        answer = await self._post_sealed(self._context, message)
        if answer.new_connection or answer.status == 401:
            # The server holds no context for this connection: authenticate again, resend once.
            return await self._authenticate(message)
        return answer

    async def _post_static(self, message: bytes, authorization: str) -> HTTPAnswer:
        """Basic: every request presents the password, so the lockout guard sees the first."""
        gate = self._broker.gate(self._auth)
        if gate.accepted or self._auth.method is AuthMethod.CERTIFICATE:
            return await self._post(message, SOAP_CONTENT_TYPE, authorization)
        async with gate.presenting(self._endpoint.host) as presentation:
            answer = await self._post(message, SOAP_CONTENT_TYPE, authorization)
            if answer.status == 401:
                presentation.reject()
            else:
                presentation.accept()
            return answer

    async def _post_sealed(
        self, context: SecurityContext, message: bytes, authorization: str | None = None
    ) -> HTTPAnswer:
        if not self._encrypt:
            return await self._post(message, SOAP_CONTENT_TYPE, authorization)
        content_type, parts = framing.wrap_parts(
            context.cipher, context.encryption_protocol, message
        )
        answer = await self._post(parts, content_type, authorization)
        if not framing.is_encrypted(answer.content_type):
            return answer
        plain = framing.unwrap(context.cipher, answer.body)
        return HTTPAnswer(
            answer.status,
            answer.reason,
            SOAP_CONTENT_TYPE,
            answer.www_authenticate,
            plain,
            answer.new_connection,
        )

    async def _authenticate(self, message: bytes) -> HTTPAnswer:
        """Authenticate the connection, then send `message` (with the last leg if it can)."""
        self._context = None
        host = self._endpoint.host
        gate = self._broker.gate(self._auth)
        gate.check_presentable(host)
        # Connect first: the first hosts of a run connect while the run's one AS exchange
        # (gate.plan) is still in flight, instead of after it.
        await self._connection.open()
        plan = await gate.plan(self._auth, host)
        # After the new plan: a host's copy of the TGT (its service ticket) outlives a reconnect.
        self._release_plan()
        self._plan = plan
        context = await SecurityContext.start(
            self._endpoint,
            self._auth,
            plan,
            encrypt=self._encrypt,
            channel_bindings=self._channel_bindings(),
            threads=self._broker.threads,
        )
        handshake = Handshake(self._auth, host, guarded=plan.guarded, eager=self._eager)
        action: Action = handshake.start()
        answer: HTTPAnswer | None = None
        async with contextlib.AsyncExitStack() as guard:
            presentation: Presentation | None = None
            while isinstance(action, Step | Send):
                if isinstance(action, Step):
                    action = await self._step(handshake, context, action.token)
                    continue
                if action.proves and presentation is None:
                    # The host answered, so it is up: this leg proves the password, and
                    # until the credential is accepted once only one such leg is in flight.
                    presentation = await guard.enter_async_context(gate.presenting(host))
                answer = await self._send_leg(context, message, action)
                action = handshake.answered(answer)
            if isinstance(action, Fail):
                if action.rejected and presentation is not None:
                    presentation.reject()
                raise action.error
            if presentation is not None:
                presentation.accept()
        if isinstance(action, StartOver):
            self._eager = False
            return await self._authenticate(message)
        self._context = context
        if action.carried:
            assert answer is not None  # a leg carried the message
            return answer
        return await self._post_sealed(context, message)

    def _channel_bindings(self) -> GssChannelBindings | None:
        if not self._binds_to_tls:
            return None
        # The binding is of the certificate this socket saw.
        certificate = self._connection.peer_certificate()
        return tls_server_end_point(certificate) if certificate else None

    @staticmethod
    async def _step(handshake: Handshake, context: SecurityContext, token: bytes | None) -> Action:
        """One context step (off the loop when it may wait on a KDC), reported to the handshake."""
        try:
            out = await context.step(token)
        except AuthError as error:
            return handshake.step_failed(error)
        return handshake.stepped(out, complete=context.complete)

    async def _send_leg(self, context: SecurityContext, message: bytes, leg: Send) -> HTTPAnswer:
        if leg.carry:
            return await self._post_sealed(context, message, authorization=leg.authorization)
        return await self._post(b"", None, leg.authorization)

    async def _post(
        self, body: bytes | list[bytes], content_type: str | None, authorization: str | None
    ) -> HTTPAnswer:
        if body and self._receipt is not None:
            self._receipt.sent = True
        return await self._connection.post(
            body, timeout=self._timeout, content_type=content_type, authorization=authorization
        )

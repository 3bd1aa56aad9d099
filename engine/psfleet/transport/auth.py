"""HTTP authentication for WinRM: the Authorization header or the pyspnego context of a method.

Basic and certificate auth are a fixed header on every request. NTLM, Negotiate,
Kerberos and CredSSP are pyspnego handshakes bound to one TCP connection, whose
decisions (which leg to send, what an answer means) are handshake.Handshake's; once
complete, the same context encrypts message bodies on plain HTTP.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

import spnego
import spnego.exceptions
from spnego.channel_bindings import GssChannelBindings

from psfleet.errors import AuthError, DelegationRefused, UsageError
from psfleet.transport import framing
from psfleet.transport.blocking import WorkerPool, off_loop
from psfleet.transport.credentials import AuthPlan
from psfleet.transport.kerberos import INSTALL_HINT
from psfleet.transport.options import AuthMethod, AuthOptions, Endpoint

# WS-Management's marker for "authenticate me by the TLS client certificate".
CERTIFICATE_AUTHORIZATION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"

_PROTOCOLS = {
    AuthMethod.NTLM: "ntlm",
    AuthMethod.NEGOTIATE: "negotiate",
    AuthMethod.KERBEROS: "kerberos",
    AuthMethod.CREDSSP: "credssp",
}


def static_authorization(endpoint: Endpoint, auth: AuthOptions) -> str:
    """The Authorization header of a method without a handshake (Basic, certificate)."""
    if auth.method is AuthMethod.CERTIFICATE:
        return CERTIFICATE_AUTHORIZATION
    credential = auth.credential
    if credential is None or credential.username is None or credential.password is None:
        raise UsageError("Basic auth needs a user name and a password", host=endpoint.host)
    pair = f"{credential.username}:{credential.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class SecurityContext:
    """One client handshake (and afterwards the message cipher) of one TCP connection.

    A plan whose steps may wait on a KDC (Kerberos: a service ticket per host) runs them
    in a worker thread of the run's pool (at most 4 at once); a cancelled step abandons
    its thread.
    Build it with `await SecurityContext.start(...)`.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        auth: AuthOptions,
        plan: AuthPlan,
        *,
        encrypt: bool,
        channel_bindings: GssChannelBindings | None = None,
        threads: WorkerPool | None = None,
    ) -> None:
        if auth.method is AuthMethod.CREDSSP:
            check_credssp_allowed(endpoint, auth)
        self.encryption_protocol = (
            framing.CREDSSP_PROTOCOL
            if auth.method is AuthMethod.CREDSSP
            else framing.SPNEGO_PROTOCOL
        )
        self.plan = plan
        self._host = endpoint.host
        self._threads = threads
        self._context = _new_context(endpoint, auth, plan, encrypt, channel_bindings)

    @classmethod
    async def start(
        cls,
        endpoint: Endpoint,
        auth: AuthOptions,
        plan: AuthPlan,
        *,
        encrypt: bool,
        channel_bindings: GssChannelBindings | None = None,
        threads: WorkerPool | None = None,
    ) -> SecurityContext:
        build = functools.partial(
            cls,
            endpoint,
            auth,
            plan,
            encrypt=encrypt,
            channel_bindings=channel_bindings,
            threads=threads,
        )
        if not plan.blocking:
            return build()
        return await off_loop(build, name="psfleet-gssapi", pool=threads)

    @property
    def complete(self) -> bool:
        return bool(self._context.complete)

    @property
    def cipher(self) -> framing.WinRMCipher:
        cipher: framing.WinRMCipher = self._context
        return cipher

    async def step(self, token: bytes | None) -> bytes | None:
        """The context's next token, given the host's (None first); AuthError when refused."""
        if not self.plan.blocking:
            return self._step_now(token)
        step = functools.partial(self._step_now, token)
        return await off_loop(step, name="psfleet-gssapi", pool=self._threads)

    def _step_now(self, token: bytes | None) -> bytes | None:
        try:
            out: bytes | None = self._context.step(token)
        except spnego.exceptions.SpnegoError as exc:
            # pyspnego messages name the mechanism and the failure, never the password.
            raise AuthError(
                f"authentication failed: {type(exc).__name__}: {exc.message}", host=self._host
            ) from None
        return out


def check_credssp_allowed(endpoint: Endpoint, auth: AuthOptions) -> None:
    """CredSSP hands the password to the host: refuse a host outside the allowlist."""
    allowed = auth.credssp_allowed
    if allowed is None or not allowed(endpoint.host):
        # Refused before a single credential byte leaves this process.
        listed = f" ({allowed!r})" if allowed is not None else ""
        raise DelegationRefused(
            f"CredSSP would hand your password to {endpoint.host}, which is not in the "
            f"CredSSP allowlist{listed}; nothing was sent",
            host=endpoint.host,
            remedy=f"Add the host to --delegate-to (e.g. --delegate-to {endpoint.host}) "
            "only if you trust it with your credentials, or use Kerberos delegation "
            "(--auth kerberos --delegate).",
        )


def binds_to_tls(endpoint: Endpoint, auth: AuthOptions) -> bool:
    """Whether a handshake carries the TLS channel binding (CredSSP binds by pubKeyAuth)."""
    bindable = auth.method in (AuthMethod.NTLM, AuthMethod.NEGOTIATE, AuthMethod.KERBEROS)
    return endpoint.tls and auth.channel_binding and bindable


def _new_context(
    endpoint: Endpoint,
    auth: AuthOptions,
    plan: AuthPlan,
    encrypt: bool,
    channel_bindings: GssChannelBindings | None,
) -> Any:
    credential = auth.credential
    context_req = spnego.ContextReq.default
    if auth.delegate:
        context_req |= spnego.ContextReq.delegate
    options = spnego.NegotiateOptions.wrapping_winrm if encrypt else spnego.NegotiateOptions.none
    try:
        if auth.method is AuthMethod.CREDSSP:
            if credential is None or credential.username is None or credential.password is None:
                raise UsageError("CredSSP needs a user name and a password", host=endpoint.host)
            inner = spnego.client(
                plan.credentials,
                hostname=endpoint.host,
                service=auth.service,
                protocol=plan.protocol or auth.credssp_mechanism,
            )
            return spnego.client(
                credential.username,
                credential.password,
                hostname=endpoint.host,
                service=auth.service,
                context_req=context_req,
                protocol="credssp",
                options=options,
                credssp_negotiate_context=inner,
            )
        return spnego.client(
            plan.credentials,
            hostname=endpoint.host,
            service=auth.service,
            context_req=context_req,
            protocol=plan.protocol or _PROTOCOLS[auth.method],
            options=options,
            channel_bindings=channel_bindings,
        )
    except spnego.exceptions.SpnegoError as exc:
        raise AuthError(
            f"cannot start {auth.method} auth: {exc.message}", host=endpoint.host
        ) from None
    except ImportError as missing:  # pyspnego's GSSAPI proxy without python-gssapi (not Windows)
        raise AuthError(
            f"cannot start {auth.method} auth: {missing}",
            host=endpoint.host,
            remedy=f"Kerberos needs python-gssapi on this machine: {INSTALL_HINT}.",
        ) from None

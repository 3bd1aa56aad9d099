"""Server-side HTTP authentication of a simulated host: Basic, Negotiate (NTLM/Kerberos),
CredSSP, and client certificates over HTTPS.

Handshakes are bound to the TCP connection, as on Windows: the context lives in a
ConnectionAuth keyed by the transport, and later requests on that connection are
authenticated by it (their bodies encrypted with it on HTTP).

Every logon with a password is also judged by the domain's lockout policy (lockout.py),
shared by all hosts: a wrong password counts against the account it names, and a
locked account is refused even with the right password, with the same bare 401.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gssapi.raw
import spnego
import spnego.exceptions
from spnego.channel_bindings import GssChannelBindings

from psfleet.simfleet.accounts import Accounts
from psfleet.simfleet.certs import mapped_upn
from psfleet.simfleet.hostfacts import AuthName
from psfleet.simfleet.lockout import AccountLockout
from psfleet.simfleet.ntlm_logon import authenticate_user
from psfleet.simfleet.service_keys import acceptor, acceptor_credential, carries_kerberos
from psfleet.transport import framing
from psfleet.transport.auth import CERTIFICATE_AUTHORIZATION


class Scheme(enum.StrEnum):
    BASIC = "basic"
    NEGOTIATE = "negotiate"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    # Not a scheme word but a WS-Management URI: "the TLS client certificate says who I am".
    CERTIFICATE = CERTIFICATE_AUTHORIZATION


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the connection authenticated as, and how."""

    user: str  # DOMAIN\user
    auth: AuthName
    delegable: bool  # the session can reach a second hop


@dataclass(slots=True)
class ConnectionAuth:
    """The security state of one TCP connection."""

    scheme: Scheme | None = None
    context: Any = field(default=None, repr=False)  # a pyspnego ContextProxy
    identity: Identity | None = None
    basic_token: str | None = field(default=None, repr=False)  # the Basic header it verified
    peer_certificate: bytes | None = field(default=None, repr=False)  # DER, from the TLS layer
    inner_logon: _InnerLogon | None = field(default=None, repr=False)  # CredSSP's tunnelled logon

    @property
    def cipher(self) -> Any:
        """The context that wraps/unwraps message bodies, once a sealing handshake completed."""
        if self.identity is None or self.scheme not in _ACCEPTOR_PROTOCOLS:
            return None
        return self.context

    @property
    def encryption_protocol(self) -> str:
        if self.scheme is Scheme.CREDSSP:
            return framing.CREDSSP_PROTOCOL
        if self.scheme is Scheme.KERBEROS:
            return framing.KERBEROS_PROTOCOL
        return framing.SPNEGO_PROTOCOL


@dataclass(frozen=True, slots=True)
class AuthStep:
    """The outcome of one Authorization header."""

    status: int  # 200 to go on with the request, 401 to answer now
    www_authenticate: str | None = None
    failed: bool = False  # the credentials were wrong (counts as an auth failure)


_ACCEPTOR_PROTOCOLS = {
    Scheme.NEGOTIATE: "negotiate",  # Kerberos when the client has a ticket, else NTLM
    Scheme.KERBEROS: "kerberos",
    Scheme.CREDSSP: "credssp",
}
# What pyspnego and MIT gssapi raise for a token they refuse (a bad password, a ticket for
# another host, garbage): every one of them is a failed login, never a server error.
_HANDSHAKE_FAILURES = (
    spnego.exceptions.SpnegoError,
    gssapi.raw.GSSError,
    AttributeError,
    ValueError,
    OSError,
)


class AuthPolicy:
    """What a host offers and accepts."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        lockout: AccountLockout,
        tls: bool,
        allow_unencrypted: bool,
        credssp: bool,
        keytab: Path | None = None,
    ) -> None:
        self.accounts = accounts
        self.lockout = lockout  # the domain's, shared by every host of the fleet
        self.tls = tls
        self.allow_unencrypted = allow_unencrypted
        self.credssp = credssp
        # Set (from the host's certificate) when CbtHardeningLevel is Strict.
        self.channel_bindings: GssChannelBindings | None = None
        # This host's own service keys (service_keys.py); None: the process's default keytab.
        self._keytab = keytab
        self._service_credential: Any = None  # acquired at the first Kerberos accept

    def offered(self) -> list[str]:
        """WWW-Authenticate values of a 401, like a default Windows listener."""
        offers = ["Negotiate", "Kerberos"]
        if self.credssp:
            offers.append("CredSSP")
        if self.tls or self.allow_unencrypted:
            offers.append('Basic realm="WSMAN"')
        return offers

    def step(self, header: str, conn: ConnectionAuth) -> AuthStep:
        scheme_name, _, token_text = header.strip().partition(" ")
        try:
            scheme = Scheme(scheme_name.lower())
        except ValueError:
            return AuthStep(401)
        if scheme is Scheme.BASIC:
            return self._basic(token_text, conn)
        if scheme is Scheme.CERTIFICATE:
            return self._certificate(conn)
        if scheme is Scheme.CREDSSP and not self.credssp:
            return AuthStep(401)
        try:
            token = base64.b64decode(token_text, validate=True)
        except (binascii.Error, ValueError):
            return AuthStep(401, failed=True)
        return self._security_context(scheme, token, conn)

    def _basic(self, token_text: str, conn: ConnectionAuth) -> AuthStep:
        if not (self.tls or self.allow_unencrypted):
            return AuthStep(401)  # Basic sends the password in clear: refused on plain HTTP
        if conn.scheme is Scheme.BASIC and conn.basic_token == token_text:
            return AuthStep(200)  # clients repeat the header on every request: checked once
        # A failed attempt leaves the connection unauthenticated, whatever it was before.
        conn.scheme, conn.context, conn.identity, conn.basic_token = None, None, None, None
        try:
            user, _, password = base64.b64decode(token_text).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return AuthStep(401, failed=True)
        account = self.accounts.find(user)
        if account is None:
            return AuthStep(401, failed=True)
        if account.password != password:
            self.lockout.bad_password(account.qualified)
            return AuthStep(401, failed=True)
        if not self.lockout.admit(account.qualified):
            return AuthStep(401, failed=True)
        conn.scheme, conn.basic_token = Scheme.BASIC, token_text
        conn.identity = Identity(account.qualified, "basic", delegable=False)
        return AuthStep(200)

    def _certificate(self, conn: ConnectionAuth) -> AuthStep:
        if conn.scheme is Scheme.CERTIFICATE and conn.identity is not None:
            return AuthStep(200)  # mapped once per connection, from its handshake's certificate
        conn.scheme, conn.context, conn.identity, conn.basic_token = None, None, None, None
        # The TLS layer already verified the chain to the fleet CA; no certificate at all
        # (or plain HTTP) leaves nothing to map.
        upn = mapped_upn(conn.peer_certificate) if conn.peer_certificate else None
        account = self.accounts.find(upn) if upn else None
        if account is None or not self.lockout.admit(account.qualified):
            return AuthStep(401, failed=True)
        conn.scheme = Scheme.CERTIFICATE
        conn.identity = Identity(account.qualified, "certificate", delegable=False)
        return AuthStep(200)

    def _security_context(self, scheme: Scheme, token: bytes, conn: ConnectionAuth) -> AuthStep:
        # A fresh handshake on a connection replaces whatever it had.
        if conn.scheme is not scheme or conn.context is None or conn.identity is not None:
            conn.scheme, conn.identity = scheme, None
            conn.context, conn.inner_logon = self._acceptor(scheme, token)
        try:
            out_token = conn.context.step(token)
        except _HANDSHAKE_FAILURES as exc:
            conn.scheme, conn.context = None, None
            if _is_password_check(exc):
                self.lockout.bad_password(authenticate_user(token))
            return AuthStep(401, failed=True)
        value = scheme_header(scheme, out_token)
        if conn.inner_logon is not None and conn.inner_logon.refused:
            # CredSSP answers its inner failure with an error TSRequest, not an exception.
            conn.scheme, conn.context = None, None
            return AuthStep(401, www_authenticate=value if out_token else None, failed=True)
        if not conn.context.complete:
            return AuthStep(401, www_authenticate=value)
        identity = _identity(scheme, conn.context)
        if not self.lockout.admit(identity.user):
            conn.scheme, conn.context = None, None
            return AuthStep(401, failed=True)  # no reason given, as Windows over WinRM
        conn.identity = identity
        return AuthStep(200, www_authenticate=value if out_token else None)

    def _acceptor(self, scheme: Scheme, token: bytes) -> tuple[Any, _InnerLogon | None]:
        if scheme is not Scheme.CREDSSP:
            return self._negotiate_acceptor(_ACCEPTOR_PROTOCOLS[scheme], token), None
        # CredSSP binds to TLS through its own pubKeyAuth, not channel bindings; its inner
        # logon is handed in (a documented pyspnego option) so that it can be judged.
        inner = _InnerLogon(self.lockout)
        return spnego.server(protocol="credssp", credssp_negotiate_context=inner), inner

    def _negotiate_acceptor(self, protocol: str, token: bytes) -> Any:
        """A Kerberos or Negotiate acceptor; Kerberos with this host's own keys."""
        if self._keytab is None or (protocol == "negotiate" and not carries_kerberos(token)):
            return spnego.server(protocol=protocol, channel_bindings=self.channel_bindings)
        if self._service_credential is None:
            self._service_credential = acceptor_credential(self._keytab)
        return acceptor(protocol, self._service_credential, self.channel_bindings)


class _InnerLogon:
    """CredSSP's inner Negotiate acceptor, watched by the lockout policy.

    CredSSP tunnels the NTLM (or Kerberos) exchange through its TLS channel, so only
    this context sees who logs on and whether the password was right; a locked account
    is refused at the same step as a wrong password.
    """

    def __init__(self, lockout: AccountLockout) -> None:
        self._context: Any = spnego.server(protocol="negotiate")
        self._lockout = lockout
        self.refused = False

    def step(self, in_token: bytes | None = None, **kwargs: Any) -> bytes | None:
        try:
            out_token: bytes | None = self._context.step(in_token, **kwargs)
        except _HANDSHAKE_FAILURES as exc:
            self.refused = True
            if _is_password_check(exc):
                self._lockout.bad_password(authenticate_user(in_token or b""))
            raise
        if self._context.complete and not self._lockout.admit(
            _identity(Scheme.NEGOTIATE, self._context).user
        ):
            self.refused = True
            raise spnego.exceptions.InvalidTokenError(context_msg="logon refused")
        return out_token

    def __getattr__(self, name: str) -> Any:
        # Everything else (wrap, unwrap, complete, ...) is the inner context's.
        return getattr(self._context, name)


def _is_password_check(exc: BaseException) -> bool:
    """Whether a failed handshake was judged on the password (and so counts against it).

    A missing channel binding (Extended Protection) is refused by the host itself,
    before any domain controller sees the logon.
    """
    return not isinstance(exc, spnego.exceptions.BadBindingsError)


def scheme_header(scheme: Scheme, token: bytes | None) -> str:
    name = {Scheme.CREDSSP: "CredSSP", Scheme.KERBEROS: "Kerberos"}.get(scheme, "Negotiate")
    return f"{name} {base64.b64encode(token).decode()}" if token else name


def _identity(scheme: Scheme, context: Any) -> Identity:
    if scheme is Scheme.CREDSSP:
        credential = context.get_extra_info("client_credential")
        user = f"{credential.domain_name}\\{credential.username}" if credential else "unknown"
        # CredSSP hands the password itself to this host: the second hop works.
        return Identity(user, "credssp", delegable=credential is not None)
    negotiated = str(getattr(context, "negotiated_protocol", "ntlm") or "ntlm").lower()
    if negotiated != "kerberos":
        return Identity(str(context.client_principal or "unknown"), "ntlm", delegable=False)
    # MIT sets the delegate flag exactly when the client forwarded its TGT to this host.
    delegable = bool(context.context_attr & spnego.ContextReq.delegate)
    return Identity(_windows_name(str(context.client_principal)), "kerberos", delegable)


def _windows_name(principal: str) -> str:
    """admin@LAB.TEST -> LAB\\admin, the form Windows shows (and quotas count by)."""
    user, _, realm = principal.partition("@")
    return f"{realm.split('.', 1)[0]}\\{user}" if realm else principal

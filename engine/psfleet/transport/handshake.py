"""The decisions of one connection's HTTP authentication handshake, without I/O (the h11 habit).

A `Handshake` never touches a socket, a thread or the pyspnego context: the channel
drives it. Each call reports what happened and returns what to do next:

- `Step(token)`: step the security context with the host's token (off the event loop
  when it may wait on a KDC), then report `stepped(out, complete=...)`, or
  `step_failed(error)` when the context refused the token;
- `Send(...)`: post one leg with this Authorization header (the message rides with it,
  sealed, when `carry`), then report `answered(answer)`;
- `Done`, `StartOver` or `Fail`: the end of this handshake.

The lockout guard stays with the channel, steered from here: a `Send` that `proves`
presents a password-derived proof, so the channel takes the credential's turn before
sending it; `Fail.rejected` counts a rejection against the credential, and `Done` and
`StartOver` mean the host accepted it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from dataclasses import dataclass, field
from typing import Protocol

from psfleet.errors import AuthError, ConnectError, ProtocolError, PsfleetError
from psfleet.transport.credentials import AUTH_FAILED_REMEDY
from psfleet.transport.failures import status_error
from psfleet.transport.options import AuthMethod, AuthOptions

MAX_LEGS = 8  # CredSSP takes up to six; NTLM two

_NOT_OFFERED_REMEDY = {
    "CredSSP": "On the host: `Enable-WSManCredSSP -Role Server`; on this machine's Windows "
    "equivalent: `Enable-WSManCredSSP -Role Client -DelegateComputer <host>`. Or use Kerberos "
    "delegation (--auth kerberos --delegate).",
    "Negotiate": "On the host: `Set-Item WSMan:\\localhost\\Service\\Auth\\Negotiate $true`.",
}
_TOKEN_PATTERNS = {
    scheme: re.compile(rf"(?:^|,)\s*{scheme}\s+([A-Za-z0-9+/=]+)", re.I)
    for scheme in ("CredSSP", "Negotiate")
}


def scheme_of(method: AuthMethod) -> str:
    """The WWW-Authenticate scheme a connection-bound method speaks (Kerberos and NTLM
    ride in Negotiate, as Windows expects)."""
    return "CredSSP" if method is AuthMethod.CREDSSP else "Negotiate"


def offered_schemes(www_authenticate: str | None) -> set[str]:
    """The auth schemes a 401 offers, lower-cased (values joined from every header)."""
    schemes = set()
    for part in (www_authenticate or "").split(","):
        word = part.strip().split(" ", 1)[0]
        # Parameters such as realm="WSMAN" follow a scheme; tokens are long base64 runs.
        if word and "=" not in word:
            schemes.add(word.lower())
    return schemes


class ServerAnswer(Protocol):
    """What the handshake reads of an HTTP answer (the connection's HTTPAnswer has it)."""

    @property
    def status(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def www_authenticate(self) -> str | None: ...
    @property
    def body(self) -> bytes: ...
    @property
    def new_connection(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Step:
    """Step the security context with the host's token (None: the opening step)."""

    token: bytes | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Send:
    """Post one leg with this Authorization header."""

    authorization: str = field(repr=False)
    carry: bool  # the message rides with this leg, sealed with the context it completes
    proves: bool  # a password-derived proof: take the lockout guard's turn before sending


@dataclass(frozen=True, slots=True)
class Done:
    """The connection is authenticated; the context seals its messages from now on."""

    carried: bool  # the message went with the last leg: that answer is the request's


@dataclass(frozen=True, slots=True)
class StartOver:
    """The host accepted the credential but ignored the message sent with the last leg.

    The message was sealed with a sequence number the host never saw: authenticate
    again with empty-bodied legs only (`eager=False`), then send it.
    """


@dataclass(frozen=True, slots=True)
class Fail:
    error: PsfleetError
    rejected: bool  # the host refused a proof: count it against the credential


Action = Step | Send | Done | StartOver | Fail


class _Phase(enum.Enum):
    IDLE = "idle"
    OPENING = "stepping the opening token"
    CHALLENGED = "stepping a 401's challenge"
    FINISHING = "stepping the token of the 200"
    SENT = "waiting for the answer to a leg"
    OVER = "over"


_STEPPING = (_Phase.OPENING, _Phase.CHALLENGED, _Phase.FINISHING)


class Handshake:
    """One client handshake of one TCP connection, from the first token to Done or Fail.

    `guarded`: the legs after the first present a password-derived proof (AuthPlan.guarded).
    `eager`: send the message with the last leg when the client finishes first (NTLM,
    CredSSP), which saves a round trip per connection.
    """

    def __init__(
        self,
        auth: AuthOptions,
        host: str,
        *,
        guarded: bool,
        eager: bool = True,
        max_legs: int = MAX_LEGS,
    ) -> None:
        self.scheme = scheme_of(auth.method)
        self._auth = auth
        self._host = host
        self._guarded = guarded
        self._eager = eager
        self._max_legs = max_legs
        self._phase = _Phase.IDLE
        self._legs = 0  # legs sent
        self._complete = False  # the context has finished, as of its last step
        self._proved = False  # a proof has been sent (the channel holds the guard's turn)
        self._carry = False  # the message rides with the leg last sent
        self._answered_with_body = False

    def __repr__(self) -> str:
        return f"Handshake({self.scheme}, {self._host!r}, legs={self._legs}, {self._phase.value})"

    def start(self) -> Step:
        self._expect("start", _Phase.IDLE)
        self._phase = _Phase.OPENING
        return Step(None)

    def stepped(self, token: bytes | None, *, complete: bool) -> Action:
        """The context's step returned `token` and is now `complete` or not."""
        phase = self._expect("stepped", *_STEPPING)
        self._complete = complete
        if phase is _Phase.FINISHING:
            if not complete:
                return self._fail(self._unfinished())
            return self._accepted()
        if token:
            return self._send(f"{self.scheme} {base64.b64encode(token).decode('ascii')}")
        if phase is _Phase.OPENING:
            return self._fail(AuthError("the auth handshake produced no token", host=self._host))
        return self._rejection()  # nothing to answer a challenge with

    def step_failed(self, error: PsfleetError) -> Fail:
        """The context refused the host's token."""
        phase = self._expect("step_failed", *_STEPPING)
        # A challenge's token that fails the step after the proof (CredSSP's TSRequest
        # carrying STATUS_LOGON_FAILURE) is the host refusing the credential.
        return self._fail(error, rejected=phase is _Phase.CHALLENGED)

    def answered(self, answer: ServerAnswer) -> Action:
        """The host's answer to the leg last sent."""
        self._expect("answered", _Phase.SENT)
        if self._legs > 1 and answer.new_connection:
            closed = "the host closed the connection during authentication"
            return self._fail(ConnectError(closed, host=self._host))
        if answer.status == 401:
            return self._challenged(answer.www_authenticate)
        if answer.status != 200 and not self._carry:
            return self._fail(status_error(answer.status, answer.reason, answer.body, self._host))
        # A non-200 to the message itself is the request's answer, not the handshake's.
        self._answered_with_body = bool(answer.body)
        if self._complete:
            return self._accepted()
        # The last token (Kerberos mutual auth, SPNEGO mechListMIC) rides on the 200.
        try:
            token = self._server_token(answer.www_authenticate)
        except PsfleetError as error:
            return self._fail(error)
        if token is None:
            return self._fail(self._unfinished())
        self._phase = _Phase.FINISHING
        return Step(token)

    def _challenged(self, www_authenticate: str | None) -> Action:
        if self._carry:
            return self._rejection()  # the host refused the leg that completed the context
        try:
            token = self._server_token(www_authenticate)
        except ProtocolError as error:
            return self._fail(error)
        except AuthError as error:
            return self._fail(error, rejected=True)
        if token is None:
            return self._rejection()  # a bare 401: the host refused the credential
        self._phase = _Phase.CHALLENGED
        return Step(token)

    def _send(self, authorization: str) -> Action:
        if self._legs == self._max_legs:
            return self._fail(AuthError("the auth handshake did not finish", host=self._host))
        # The first leg only names the mechanism; every later one carries the proof.
        proves = self._guarded and self._legs > 0
        self._proved = self._proved or proves
        self._carry = self._eager and self._complete
        self._legs += 1
        self._phase = _Phase.SENT
        return Send(authorization, carry=self._carry, proves=proves)

    def _accepted(self) -> Done | StartOver:
        self._phase = _Phase.OVER
        if self._carry and not self._answered_with_body:
            return StartOver()
        return Done(carried=self._carry)

    def _rejection(self) -> Fail:
        user = self._auth.credential.username if self._auth.credential else None
        who = f" for {user}" if user else ""
        message = f"the host rejected the {self._auth.method.value} credentials{who}"
        return self._fail(
            AuthError(message, host=self._host, remedy=AUTH_FAILED_REMEDY), rejected=True
        )

    def _unfinished(self) -> AuthError:
        return AuthError("the host accepted an unfinished handshake", host=self._host)

    def _fail(self, error: PsfleetError, *, rejected: bool = False) -> Fail:
        self._phase = _Phase.OVER
        # Only a proof the host has seen counts against the credential.
        return Fail(error, rejected=rejected and self._proved)

    def _server_token(self, www_authenticate: str | None) -> bytes | None:
        """The host's token for our scheme; None when it sent none.

        Raises AuthError when the host does not offer our scheme at all, ProtocolError
        when the token is not base64.
        """
        match = _TOKEN_PATTERNS[self.scheme].search(www_authenticate or "")
        if match is None:
            offered = offered_schemes(www_authenticate)
            if not self._complete and offered and self.scheme.lower() not in offered:
                raise AuthError(
                    f"the host does not offer {self.scheme} authentication "
                    f"(it offers: {', '.join(sorted(offered))})",
                    host=self._host,
                    remedy=_NOT_OFFERED_REMEDY.get(self.scheme, ""),
                )
            return None
        try:
            return base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(
                "the host sent an auth token that is not base64", host=self._host
            ) from exc

    def _expect(self, call: str, *phases: _Phase) -> _Phase:
        if self._phase not in phases:
            raise RuntimeError(f"Handshake.{call}() called while {self._phase.value}")
        return self._phase

"""What each credential of a run authenticates with, and whether it may still be presented.

One `CredentialBroker` serves a whole run (every host, every channel):
- Kerberos with a password: one AS exchange per credential per run, in a worker thread,
  into a private MEMORY ccache that `close()` destroys. Each host's contexts read a copy
  of it (`HostCache`, shared by the host's channels and destroyed with the last of them),
  which holds that host's service ticket: MIT searches a ccache linearly, so one ccache
  holding 1000 hosts' tickets made every new context slow.
  A realm whose KDC cannot be found or does not answer is found out once: Negotiate
  then uses NTLM for the rest of the run, and the log says so once, with the reason.
- The lockout guard: until a credential has been accepted once, at most one handshake
  presents it, and after the KDC rejects it or `max_auth_failures` hosts do, it is not
  presented again (a domain locks an account after a few bad attempts, and a fan-out
  to 500 hosts would otherwise make 500 of them).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import spnego

from psfleet.errors import AuthError
from psfleet.logs import get_logger
from psfleet.transport import kerberos
from psfleet.transport.blocking import DaemonCall, WorkerPool
from psfleet.transport.kerberos import KdcFailure, KdcVerdict, TicketCache
from psfleet.transport.nt_hash import nt_hash
from psfleet.transport.options import AuthMethod, AuthOptions, Timeouts

log = get_logger("psfleet.auth")

AUTH_FAILED_REMEDY = (
    "Check the user name (DOMAIN\\user or user@REALM) and the password; the account may be "
    "locked, disabled or expired (ask a domain admin: `Get-ADUser <user> -Properties "
    "LockedOut`); or choose another method with --auth (see `psfleet doctor HOST`)."
)
# Concurrent Kerberos steps (context builds, TGS exchanges). 4, not 16: at 1000 hosts on a
# quiet machine 4 threads ran the loop's longest stall at 16 ms and the wall at 5.7 s; 16
# threads running pyspnego at once starve the loop of the GIL (76-614 ms stalls), and 2
# leave the run waiting on them (8.5 s). 4 serve 200 TGS exchanges/s at a 20 ms KDC RTT.
_KERBEROS_THREADS = 4


class CredentialWithheld(AuthError):
    """The lockout guard did not present the credential to this host."""


@dataclass(frozen=True, slots=True)
class AuthPlan:
    """How one handshake authenticates: pyspnego's credentials and where its steps run."""

    credentials: Any  # what spnego.client takes as `username`
    blocking: bool  # a step may wait on a KDC: run it in a worker thread
    guarded: bool  # presents a password-derived proof to the host: the lockout guard applies
    # The pyspnego protocol when it is not the method's own: Negotiate without a KDC sends
    # NTLM tokens directly (Windows' Negotiate accepts them), saving SPNEGO's wrapping.
    protocol: str | None = None
    # The host's copy of the TGT, which the plan's owner gives back (CredentialGate.release).
    ccache: HostCache | None = None


@dataclass(slots=True)
class HostCache:
    """One host's copy of the run's TGT, where its service ticket is kept, and its users."""

    key: tuple[bool, str]  # (forwardable, host)
    ticket: TicketCache
    users: int = 0


def _ticket_or_failure(principal: str, password: str, forwardable: bool) -> TicketCache:
    try:
        return kerberos.get_ticket(principal, password, forwardable=forwardable)
    except kerberos.KerberosUnavailable as missing:
        raise KdcFailure(KdcVerdict.FAILED, str(missing)) from None


class CredentialGate:
    """One credential of a run: its tickets, its lockout state."""

    def __init__(self, broker: CredentialBroker, username: str, password: str | None) -> None:
        self._broker = broker
        self.username = username
        self._password = password
        self.principal = kerberos.principal_name(username)
        self.accepted = False
        self.rejected_by: list[str] = []
        self._withheld: str | None = None  # why the credential is no longer presented
        self._presenting = anyio.Lock()
        # One AS exchange per forwardable flag, and when it started (its KDC deadline).
        self._tickets: dict[bool, tuple[DaemonCall[TicketCache], float]] = {}
        self._kerberos_unusable: str | None = None
        self._host_caches: dict[tuple[bool, str], HostCache] = {}
        self._ntlm_credential: spnego.NTLMHash | None = None

    # -- the plan of a handshake -------------------------------------------------------

    async def plan(self, auth: AuthOptions, host: str) -> AuthPlan:
        self.check_presentable(host)
        method = auth.method
        if self._password is None:
            # The user's own ticket cache (kinit): no password to guard, the KDC may be asked.
            blocking = method in (AuthMethod.NEGOTIATE, AuthMethod.KERBEROS)
            return AuthPlan(self.username or None, blocking=blocking, guarded=False)
        ntlm = self._ntlm(self._password)
        if method is AuthMethod.NTLM:
            return AuthPlan([ntlm], blocking=False, guarded=True)
        if method is AuthMethod.BASIC:
            return AuthPlan(None, blocking=False, guarded=True)
        ticket = await self._ticket(auth, host)
        if ticket is not None:
            copy = self._host_cache(ticket, auth.delegate, host)
            cache = spnego.KerberosCCache(ccache=copy.ticket.name, principal=ticket.principal)
            credentials = [cache] if method is AuthMethod.KERBEROS else [cache, ntlm]
            return AuthPlan(credentials, blocking=True, guarded=False, ccache=copy)
        # Negotiate and CredSSP's inner Negotiate without a KDC: NTLM, all on this thread.
        return AuthPlan([ntlm], blocking=False, guarded=True, protocol="ntlm")

    def _ntlm(self, password: str) -> spnego.NTLMHash:
        """NTLM needs only the NT hash: derived once per credential, not per connection.

        From a password, pyspnego also derives the LM hash (pure-Python DES, ~0.8 ms per
        handshake) that NTLMv2 never uses.
        """
        if self._ntlm_credential is None:
            hashed = nt_hash(password).hex()
            self._ntlm_credential = spnego.NTLMHash(self.username, nt_hash=hashed)
        return self._ntlm_credential

    async def _ticket(self, auth: AuthOptions, host: str) -> TicketCache | None:
        """The run's TGT for this credential, or None when Negotiate must use NTLM."""
        if self._kerberos_unusable is not None:
            self._unusable(auth, host, self._kerberos_unusable)
            return None
        forwardable = auth.delegate
        if forwardable not in self._tickets:
            assert self._password is not None
            exchange = functools.partial(
                _ticket_or_failure, self.principal, self._password, forwardable
            )
            call = DaemonCall(exchange, name="psfleet-kinit", orphaned=TicketCache.destroy)
            self._tickets[forwardable] = (call, anyio.current_time())
        call, started = self._tickets[forwardable]
        if not call.finished:
            kdc_deadline = started + self._broker.kdc_timeout
            with anyio.move_on_after(max(0.0, kdc_deadline - anyio.current_time())):
                await call.join()
        self.check_presentable(host)
        if not call.finished:
            reason = f"no KDC for realm {kerberos.realm_of(self.principal)} answered within "
            reason += f"{self._broker.kdc_timeout:g}s"
            self._unusable(auth, host, reason, log_once=True)
            return None
        try:
            ticket = call.result()
        except KdcFailure as failure:
            self._ticket_refused(auth, host, failure)
            return None
        self.accepted = True  # the KDC checked the password
        return ticket

    def _ticket_refused(self, auth: AuthOptions, host: str, failure: KdcFailure) -> None:
        """The KDC said no: a rejected password is withheld, anything else means no Kerberos."""
        if failure.verdict in (KdcVerdict.REJECTED, KdcVerdict.LOCKED):
            self._withhold(f"the KDC rejected {self.principal}: {failure.reason}", host)
            raise AuthError(
                f"the KDC rejected the credentials of {self.principal}: {failure.reason}",
                host=host,
                remedy=AUTH_FAILED_REMEDY,
            )
        self._unusable(auth, host, failure.reason, log_once=True)

    def kerberos_unusable(self, reason: str) -> None:
        """No usable KDC, as found out by an AS exchange made for this credential outside
        the gate (doctor's kdc check): later handshakes do not wait for a KDC again."""
        if self._kerberos_unusable is None:
            self._kerberos_unusable = reason
            log.info(
                "kerberos unavailable: negotiate uses NTLM for this run",
                principal=self.principal,
                reason=reason,
            )

    def _unusable(self, auth: AuthOptions, host: str, reason: str, log_once: bool = False) -> None:
        if log_once:
            self.kerberos_unusable(reason)
        if auth.method is AuthMethod.KERBEROS:
            raise AuthError(
                f"no Kerberos ticket for {self.principal}: {reason}",
                host=host,
                remedy="Check that a KDC for the realm is reachable (krb5.conf [realms] or DNS "
                "SRV records; `psfleet doctor HOST --auth kerberos`), or use --auth negotiate "
                "or ntlm.",
            )

    # -- the lockout guard ---------------------------------------------------------------

    def check_presentable(self, host: str) -> None:
        if self._withheld is not None:
            raise CredentialWithheld(
                f"not tried: {self._withheld} (lockout guard)", host=host, remedy=AUTH_FAILED_REMEDY
            )

    @asynccontextmanager
    async def presenting(self, host: str) -> AsyncIterator[Presentation]:
        """Hold the right to present an unproven credential (one handshake at a time)."""
        presentation = Presentation(self, host)
        if self.accepted:
            yield presentation
            return
        async with self._presenting:
            self.check_presentable(host)
            if not self.accepted:
                yield presentation
                return
        yield presentation  # accepted while this handshake waited: no need to hold the turn

    def rejected(self, host: str) -> None:
        if self.accepted or host in self.rejected_by:
            return  # a credential good elsewhere: this host's own refusal, not a bad password
        self.rejected_by.append(host)
        count = len(self.rejected_by)
        if count >= self._broker.max_auth_failures:
            self._withhold(f"credential rejected {count} time{'s' if count != 1 else ''}", host)

    def _withhold(self, why: str, host: str) -> None:
        if self._withheld is None:
            self._withheld = why
            log.warning("credential withheld (lockout guard)", user=self.username, reason=why)

    def _host_cache(self, ticket: TicketCache, forwardable: bool, host: str) -> HostCache:
        """The host's copy of the TGT: its channels (and a new connection) share its ticket."""
        key = (forwardable, host)
        copy = self._host_caches.get(key)
        if copy is None:
            copy = self._host_caches[key] = HostCache(key, ticket.copy())
        copy.users += 1
        return copy

    def release(self, plan: AuthPlan) -> None:
        """A channel is done with the plan: the host's last one destroys the host's copy."""
        copy = plan.ccache
        if copy is None or self._host_caches.get(copy.key) is not copy:
            return  # none, or already destroyed by close()
        copy.users -= 1
        if copy.users == 0:
            del self._host_caches[copy.key]
            copy.ticket.destroy()

    def destroy(self) -> None:
        for copy in self._host_caches.values():
            copy.ticket.destroy()
        self._host_caches.clear()
        for call, _ in self._tickets.values():
            ticket = call.result_if_ready()
            if ticket is not None:
                ticket.destroy()


class Presentation:
    """One guarded handshake reports how its host answered the credential."""

    def __init__(self, gate: CredentialGate, host: str) -> None:
        self._gate = gate
        self._host = host

    def accept(self) -> None:
        self._gate.accepted = True

    def reject(self) -> None:
        self._gate.rejected(self._host)


class CredentialBroker:
    """The credentials of one run (or one connection): tickets and lockout guards."""

    def __init__(
        self,
        *,
        max_auth_failures: int = 3,
        kdc_timeout: float = 10.0,
        kerberos_threads: int = _KERBEROS_THREADS,
    ) -> None:
        if max_auth_failures < 1:
            raise ValueError("max_auth_failures must be at least 1")
        self.max_auth_failures = max_auth_failures
        self.kdc_timeout = kdc_timeout
        self.threads = WorkerPool(kerberos_threads)
        self._gates: dict[tuple[str, str | None], CredentialGate] = {}

    def __repr__(self) -> str:
        return f"CredentialBroker(credentials={len(self._gates)})"

    def gate(self, auth: AuthOptions) -> CredentialGate:
        credential = auth.credential
        username = credential.username if credential else None
        password = credential.password if credential else None
        key = (username or "", password)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = CredentialGate(self, username or "", password)
        return gate

    @classmethod
    def for_settings(cls, auth: AuthOptions, timeouts: Timeouts) -> CredentialBroker:
        """A new broker with the lockout limit of `auth` and the KDC wait of `timeouts`."""
        return cls(max_auth_failures=auth.max_auth_failures, kdc_timeout=timeouts.connect)

    @classmethod
    def attach(
        cls, auth: AuthOptions, timeouts: Timeouts
    ) -> tuple[AuthOptions, CredentialBroker | None]:
        """For a run's entry point: `auth` with a broker: its own if it has one (None
        returned: not ours to close), else a new one, returned for the caller to close."""
        if auth.broker is not None:
            return auth, None
        broker = cls.for_settings(auth, timeouts)
        return dataclasses.replace(auth, broker=broker), broker

    def close(self) -> None:
        """Destroy every ticket this run got (the MEMORY ccaches); end the idle threads."""
        for gate in self._gates.values():
            gate.destroy()
        self._gates.clear()
        self.threads.close()

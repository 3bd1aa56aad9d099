"""The kdc check (--auth negotiate|kerberos): does a KDC for the user's realm answer, how
fast, and what will Negotiate use?

It needs nothing from the host, so it runs first. With a password it makes the AS
exchange a run makes (kinit): the domain counts a wrong password there, so when the
KDC rejects it, no later check presents it again (a doctor run adds at most one bad
attempt). Without a password a run uses the user's ticket cache: the check says
whether it holds a TGT, and for which realm. Every krb5/GSSAPI call may wait on the
network (DNS SRV lookups, UDP retries to a KDC): each runs in a worker thread that the
deadline abandons (blocking.py), never on the event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from psfleet.doctor.blocking import call_blocking
from psfleet.doctor.context import Probe
from psfleet.doctor.model import Check, Fact
from psfleet.errors import AuthError
from psfleet.transport import kerberos
from psfleet.transport.credentials import AUTH_FAILED_REMEDY
from psfleet.transport.kerberos import KdcFailure, KdcVerdict, KerberosUnavailable
from psfleet.transport.options import AuthMethod

# python-gssapi comes with pyspnego[kerberos] where MIT or Heimdal is installed.
gssapi: Any
try:
    import gssapi
except ImportError:  # pragma: no cover - depends on the platform
    gssapi = None

KDC = "kdc"
METHODS = frozenset({AuthMethod.NEGOTIATE, AuthMethod.KERBEROS})

# A KRB-ERROR from a KDC maps to MIT's com_err codes base .. base+127 (krb5_err.h):
# an error in that range means a KDC answered, whatever it said.
_KRB5_BASE = -1765328384
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AsExchange:
    """How the AS exchange went: `verdict` None means the KDC issued a ticket."""

    verdict: KdcVerdict | None
    elapsed_ms: int
    reason: str = ""
    answered: bool = True  # a KDC answered (with a ticket or a KRB-ERROR)
    libraries_missing: bool = False
    timed_out: bool = False  # still waiting at the deadline (MIT retries for much longer)


@dataclass(frozen=True, slots=True)
class CachedTicket:
    """The default ticket cache: whose TGT it holds, or why none is usable."""

    cache: str
    principal: str | None = None
    lifetime_s: int | None = None
    problem: str | None = None


async def check_kdc(probe: Probe) -> Check:
    credential = probe.options.auth.credential
    if credential is None or credential.password is None:
        username = credential.username if credential is not None else None
        return await _check_ticket_cache(probe, username)
    principal = kerberos.principal_name(credential.username or "")
    realm = kerberos.realm_of(principal) or await _default_realm(probe)
    exchange = await _as_exchange(probe, principal, credential.password, realm)
    check = _verdict(probe, principal, realm, exchange)
    _share_kdc_outcome(probe, exchange)
    if not check.ok:
        # A login with this password would fail (or present it again): later checks don't try.
        probe.findings.login_failure = AuthError(check.detail, host=probe.name)
    return check


def _share_kdc_outcome(probe: Probe, exchange: AsExchange) -> None:
    """No usable KDC: the report's logins use NTLM (or fail) at once, without a second wait."""
    broker = probe.options.auth.broker
    unusable = exchange.verdict not in (None, KdcVerdict.REJECTED, KdcVerdict.LOCKED)
    if broker is not None and unusable:
        broker.gate(probe.options.auth).kerberos_unusable(exchange.reason)


def kdc_timeout(probe: Probe) -> float:
    """The run's wait for a KDC (psfleet run uses --connect-timeout)."""
    broker = probe.options.auth.broker
    return broker.kdc_timeout if broker is not None else probe.options.timeouts.connect


async def _off_loop(probe: Probe, work: Callable[[], _T]) -> _T | None:
    """`work()` in a thread, abandoned (None) at the KDC deadline."""
    return await call_blocking(work, kdc_timeout(probe), name="psfleet-doctor-kdc")


# -- with a password: the AS exchange --------------------------------------------------


async def _as_exchange(probe: Probe, principal: str, password: str, realm: str) -> AsExchange:
    forwardable = probe.options.auth.delegate

    def exchange() -> AsExchange:
        started = time.monotonic()
        try:
            ticket = kerberos.get_ticket(principal, password, forwardable=forwardable)
        except KdcFailure as failure:
            answered = failure.code is not None and 0 <= failure.code - _KRB5_BASE < 128
            return AsExchange(failure.verdict, _ms_since(started), failure.reason, answered)
        except KerberosUnavailable as missing:
            return AsExchange(KdcVerdict.FAILED, 0, str(missing), False, libraries_missing=True)
        # The verdict is all the doctor needs; the sessions get their own ticket. Destroyed
        # here, in the thread, so that an abandoned exchange leaves nothing behind either.
        ticket.destroy()
        return AsExchange(None, _ms_since(started))

    outcome = await _off_loop(probe, exchange)
    if outcome is None:
        limit = kdc_timeout(probe)
        reason = f"no answer within {limit:g}s (--connect-timeout)"
        return AsExchange(
            KdcVerdict.UNREACHABLE, round(limit * 1000), reason, answered=False, timed_out=True
        )
    return outcome


def _ms_since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _verdict(probe: Probe, principal: str, realm: str, exchange: AsExchange) -> Check:
    method = probe.options.auth.method
    facts: dict[str, Fact] = {
        "principal": principal,
        "realm": realm,
        "kdc_answered": exchange.answered,
        "elapsed_ms": exchange.elapsed_ms,
        "verdict": exchange.verdict.value if exchange.verdict is not None else "accepted",
    }
    took = f"after {exchange.elapsed_ms} ms"
    if exchange.verdict is None:
        facts["negotiate_uses"] = "kerberos"
        detail = f"a KDC for {realm} answered in {exchange.elapsed_ms} ms: {principal} got a TGT"
        if probe.options.auth.delegate:
            detail += " (forwardable, for --delegate)"
        if method is AuthMethod.NEGOTIATE:
            detail += "; Negotiate will use Kerberos"
        return Check.passed(KDC, detail, facts)
    if exchange.verdict in (KdcVerdict.REJECTED, KdcVerdict.LOCKED):
        # The run stops here too: it neither falls back to NTLM nor tries the password again.
        facts["negotiate_uses"] = None
        detail = f"the KDC for {realm} rejected {principal} ({took}): {exchange.reason}"
        return Check.failed(KDC, detail, _rejected_remedy(exchange), facts)
    # No KDC, no answer in time, or a failure that is not the password's (clock skew...).
    quiet = not exchange.answered and not exchange.libraries_missing
    what = f"no KDC for realm {realm} answered: {exchange.reason}" if quiet else exchange.reason
    if not exchange.timed_out:
        what += f" ({took})"
    if method is AuthMethod.NEGOTIATE:
        facts["negotiate_uses"] = "ntlm"
        return Check.passed(KDC, f"{what}; Negotiate will use NTLM (no Kerberos delegation)", facts)
    facts["negotiate_uses"] = None
    return Check.failed(KDC, what, _no_kdc_remedy(realm, exchange), facts)


def _rejected_remedy(exchange: AsExchange) -> str:
    tried = (
        "doctor presented the password once and not again. "
        if exchange.verdict is KdcVerdict.REJECTED
        else "The account is locked, disabled or its password expired: ask a domain admin "
        "(`Get-ADUser <user> -Properties LockedOut,Enabled,PasswordExpired`). "
    )
    return tried + AUTH_FAILED_REMEDY


def _no_kdc_remedy(realm: str, exchange: AsExchange) -> str:
    if exchange.libraries_missing:
        return f"Kerberos needs the MIT libraries: {kerberos.INSTALL_HINT}; or use --auth ntlm."
    if exchange.answered:
        return (
            f"The KDC for {realm} refused to issue a ticket for a reason other than the "
            "password (the detail says which; a clock more than 5 minutes off is the usual "
            "one: sync this machine's time). Or use --auth negotiate (falls back to NTLM) or ntlm."
        )
    return (
        f"Make a KDC for {realm} reachable from this machine: add the realm to krb5.conf "
        f"([realms] {realm} = {{ kdc = <domain controller> }}, or dns_lookup_kdc = true with "
        f"the DNS SRV records _kerberos._udp.{realm.lower()} and _kerberos._tcp.{realm.lower()}), "
        "and let UDP/TCP port 88 through. Or use --auth negotiate (falls back to NTLM) or ntlm."
    )


async def _default_realm(probe: Probe) -> str:
    """The realm a user name without one gets: krb5.conf's default_realm."""

    def lookup() -> str | None:
        krb5 = kerberos.krb5
        if krb5 is None:
            return None
        try:
            return bytes(krb5.get_default_realm(krb5.init_context())).decode()
        except krb5.Krb5Error:  # no default_realm in krb5.conf
            return None

    return await _off_loop(probe, lookup) or "the default realm"


# -- without a password: the user's ticket cache ------------------------------------------


async def _check_ticket_cache(probe: Probe, username: str | None) -> Check:
    found = await _off_loop(probe, lambda: _read_ticket_cache(username))
    if found is None:
        found = CachedTicket("the default cache", problem="reading it took too long")
    realm = kerberos.realm_of(found.principal) if found.principal else None
    facts: dict[str, Fact] = {
        "cache": found.cache,
        "principal": found.principal,
        "realm": realm,
        "lifetime_s": found.lifetime_s,
        "kdc_answered": None,  # without a password there is no AS exchange to time
        "negotiate_uses": "kerberos" if found.problem is None else None,
    }
    if found.problem is not None:
        return Check.failed(
            KDC, f"no usable TGT in {found.cache}: {found.problem}", _kinit_remedy(probe), facts
        )
    hours, minutes = divmod((found.lifetime_s or 0) // 60, 60)
    return Check.passed(
        KDC,
        f"{found.cache} holds a TGT for {found.principal} (realm {realm}), valid "
        f"{hours}h{minutes:02d}m more; a session asks the KDC of {realm} for its service ticket",
        facts,
    )


def _read_ticket_cache(username: str | None) -> CachedTicket:
    """Acquire the initiator credential as pyspnego will (blocking: KRB5 may ask a KDC)."""
    krb5 = kerberos.krb5
    if krb5 is None or gssapi is None:
        return CachedTicket("the default cache", problem=f"no Kerberos: {kerberos.INSTALL_HINT}")
    cache = bytes(krb5.cc_default_name(krb5.init_context())).decode()
    name = gssapi.Name(username, gssapi.NameType.user) if username else None
    try:
        mechs = [gssapi.MechType.kerberos]
        credentials = gssapi.Credentials(name=name, usage="initiate", mechs=mechs)
        principal, lifetime = str(credentials.name), int(credentials.lifetime)
    except gssapi.exceptions.GSSError as exc:
        return CachedTicket(cache, problem=_gss_reason(exc))
    return CachedTicket(cache, principal, lifetime)


def _gss_reason(exc: Any) -> str:
    """GSSAPI's minor status says what is wrong (no cache, expired); the major is generic."""
    minor = exc.get_all_statuses(exc.min_code, False) if exc.min_code else []
    return "; ".join(str(part) for part in minor) or str(exc.gen_message())


def _kinit_remedy(probe: Probe) -> str:
    flag = "-f " if probe.options.auth.delegate else ""
    return (
        f"Get a ticket first: `kinit {flag}user@REALM` (-f: forwardable, for --delegate), or "
        "give -u DOMAIN\\user with a password (--password-file or $PSFLEET_PASSWORD): psfleet "
        "then gets its own ticket, and Negotiate falls back to NTLM when no KDC answers."
    )

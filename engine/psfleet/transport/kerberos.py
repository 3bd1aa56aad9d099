"""One Kerberos TGT per run per credential, in a private in-memory cache (MIT krb5, blocking).

Every function here may wait on a KDC (DNS SRV lookups, UDP retries): call them from a
worker thread, never on the event loop (credentials.py does). pyspnego would otherwise
run an AS exchange with the password for every host it authenticates to: N requests
to the KDC for N hosts, and N bad-password attempts when the password is wrong.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Any

# pykrb5 and python-gssapi come with pyspnego[kerberos] where MIT or Heimdal is installed;
# without them (Windows uses SSPI), Kerberos fails with a clear error naming what to install.
krb5: Any
try:
    import krb5
except ImportError:  # pragma: no cover - depends on the platform
    krb5 = None

INSTALL_HINT = (
    "install the Kerberos libraries (Debian: apt-get install libkrb5-dev krb5-user) and "
    "`pip install pyspnego[kerberos]`"
)


class KdcVerdict(enum.Enum):
    """What an AS exchange says about a credential (or about the KDC)."""

    UNREACHABLE = "unreachable"  # no KDC found or none answered: nothing was judged
    REJECTED = "rejected"  # wrong password or unknown user: counts toward a lockout
    LOCKED = "locked"  # the account is locked, disabled or expired
    FAILED = "failed"  # anything else (clock skew, policy): not the password's fault


# MIT's com_err codes (krb5_err.h): base -1765328384 plus the protocol's error number.
_KRB5_BASE = -1765328384
_VERDICTS = {
    _KRB5_BASE + 6: KdcVerdict.REJECTED,  # KDC_ERR_C_PRINCIPAL_UNKNOWN
    _KRB5_BASE + 24: KdcVerdict.REJECTED,  # KDC_ERR_PREAUTH_FAILED: wrong password
    _KRB5_BASE + 31: KdcVerdict.REJECTED,  # KRB_AP_ERR_BAD_INTEGRITY: wrong password, no preauth
    _KRB5_BASE + 18: KdcVerdict.LOCKED,  # KDC_ERR_CLIENT_REVOKED: locked or disabled
    _KRB5_BASE + 23: KdcVerdict.LOCKED,  # KDC_ERR_KEY_EXPIRED: password expired
    -1765328228: KdcVerdict.UNREACHABLE,  # KRB5_KDC_UNREACH
    -1765328230: KdcVerdict.UNREACHABLE,  # KRB5_REALM_UNKNOWN: no KDC for the realm
    -1765328164: KdcVerdict.UNREACHABLE,  # KRB5_REALM_CANT_RESOLVE
}


class KerberosUnavailable(Exception):
    """The Kerberos libraries are not installed."""


class KdcFailure(Exception):
    """The AS exchange failed; `reason` is the library's message (realm or KDC, no secret)."""

    def __init__(self, verdict: KdcVerdict, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.verdict = verdict
        self.reason = reason
        self.code = code


def principal_name(username: str) -> str:
    """The Kerberos principal for a Windows-style user name, as Windows maps it.

    `DOMAIN\\user` becomes `user@DOMAIN` (MIT would read the backslash as an escape and
    ask the default realm); `user@realm` keeps its realm, upper-cased as AD realms are.
    """
    if "\\" in username:
        domain, user = username.split("\\", 1)
        return f"{user}@{domain.upper()}"
    if "@" in username:
        user, realm = username.rsplit("@", 1)
        return f"{user}@{realm.upper()}"
    return username


def realm_of(principal: str) -> str | None:
    return principal.rsplit("@", 1)[1] if "@" in principal else None


@dataclass(slots=True)
class TicketCache:
    """A TGT in a MEMORY ccache private to this process; `destroy()` removes it."""

    name: str  # "MEMORY:<unique>", what spnego.KerberosCCache takes
    principal: str
    _context: Any = field(repr=False)
    _ccache: Any = field(repr=False)
    _client: Any = field(repr=False)
    _credentials: Any = field(repr=False)  # the TGT, as the AS exchange returned it
    # krb5 contexts are not thread-safe: copies share their original's context and lock.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def copy(self) -> TicketCache:
        """A new MEMORY ccache holding only the TGT, for one host's contexts.

        MIT searches a ccache linearly and stores each service ticket in the ccache the
        context was given: with one ccache for the run, each new context scanned every
        host's ticket (0.7 ms of CPU per host at 1000 hosts, measured). A copy costs a few
        microseconds and touches neither disk nor network: it may run on the event loop.
        """
        with self._lock:
            ccache = _new_cache(self._context, self._client, self._credentials)
        return TicketCache(
            _cache_name(ccache),
            self.principal,
            self._context,
            ccache,
            self._client,
            self._credentials,
            self._lock,
        )

    def destroy(self) -> None:
        with self._lock:
            if self._ccache is not None:
                krb5.cc_destroy(self._context, self._ccache)
                self._ccache = None


def _require_krb5() -> None:
    if krb5 is None:
        raise KerberosUnavailable(f"Kerberos is not available on this machine: {INSTALL_HINT}")


def get_ticket(principal: str, password: str, *, forwardable: bool) -> TicketCache:
    """AS exchange with the password (blocking). Raises KdcFailure with a verdict."""
    _require_krb5()
    context = krb5.init_context()
    try:
        client = krb5.parse_name_flags(context, principal.encode())
        options = krb5.get_init_creds_opt_alloc(context)
        krb5.get_init_creds_opt_set_canonicalize(options, True)
        krb5.get_init_creds_opt_set_forwardable(options, forwardable)
        credentials = krb5.get_init_creds_password(
            context, client, options, password=password.encode()
        )
        ccache = _new_cache(context, client, credentials)
    except krb5.Krb5Error as exc:
        raise _failure(exc) from None
    return TicketCache(_cache_name(ccache), principal, context, ccache, client, credentials)


def _new_cache(context: Any, client: Any, credentials: Any) -> Any:
    ccache = krb5.cc_new_unique(context, b"MEMORY")
    krb5.cc_initialize(context, ccache, client)
    krb5.cc_store_cred(context, ccache, credentials)
    return ccache


def _cache_name(ccache: Any) -> str:
    return "MEMORY:" + (ccache.name or b"").decode()


def _failure(exc: Any) -> KdcFailure:
    code = getattr(exc, "err_code", None)
    message = str(exc.args[0]) if exc.args else type(exc).__name__
    if code is not None:
        message = message.removesuffix(f" {code}")
    verdict = _VERDICTS.get(code, KdcVerdict.FAILED) if isinstance(code, int) else KdcVerdict.FAILED
    return KdcFailure(verdict, message, code)

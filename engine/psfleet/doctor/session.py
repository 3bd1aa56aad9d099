"""The credentials and quota checks: open one runspace pool, as a run would, and close it.

One login serves both: a QuotaExceeded fault comes after the host accepted the
credentials, so it passes the credentials check and fails the quota check.
"""

from __future__ import annotations

from psfleet.client import open_pool
from psfleet.doctor.context import Probe
from psfleet.doctor.model import Check
from psfleet.errors import AuthError, DelegationRefused, PsfleetError, QuotaExceeded
from psfleet.transport.credentials import AUTH_FAILED_REMEDY

CREDENTIALS = "credentials"
QUOTA = "quota"


async def check_credentials(probe: Probe) -> Check:
    who = _who(probe)
    if probe.findings.login_failure is not None:
        return _rejected(probe, probe.findings.login_failure)
    try:
        pool = await open_pool(probe.endpoint, probe.options)
    except QuotaExceeded as exc:
        probe.findings.quota_fault = exc
        return Check.passed(CREDENTIALS, f"{who} accepted, but no shell was granted (see quota)")
    except AuthError as exc:
        return _rejected(probe, exc)
    except PsfleetError as exc:
        return Check.failed(CREDENTIALS, f"{who}: {exc.message}")
    try:
        version = pool.protocol_version
    finally:
        await pool.aclose()
    return Check.passed(CREDENTIALS, f"{who} accepted; a runspace pool opened (PSRP {version})")


def _who(probe: Probe) -> str:
    credential = probe.options.auth.credential
    user = credential.username if credential is not None else None
    return f"{user or 'the cached Kerberos ticket'} (--auth {probe.options.auth.method.value})"


def _rejected(probe: Probe, error: AuthError) -> Check:
    detail = f"{_who(probe)}: {error.message}"
    if isinstance(error, DelegationRefused):
        return Check.failed(
            CREDENTIALS,
            f"{detail} (nothing was sent)",
            f"CredSSP hands your password to {probe.name}: allow it with --delegate-to "
            f"{probe.name}, and only for a host you trust.",
        )
    # The doctor knows more than the generic advice (workgroup accounts, TrustedHosts).
    generic = error.remedy in (None, "", AUTH_FAILED_REMEDY)
    return Check.failed(CREDENTIALS, detail, _login_remedy(probe) if generic else error.remedy)


def _login_remedy(probe: Probe) -> str:
    host = probe.name
    credential = probe.options.auth.credential
    user = credential.username if credential is not None else None
    if user is None:
        return (
            "No usable Kerberos ticket: `kinit user@REALM` (kinit -f for --delegate), and check "
            f"that {host} has the HTTP/{host} service principal (`setspn -L {host}`)."
        )
    advice = (
        f"Check the account {user}, its password (--password-file or $PSFLEET_PASSWORD) and "
        "its domain (DOMAIN\\user or user@domain.fqdn), and that it is not locked out or expired."
    )
    if "\\" in user or "@" in user:
        return advice
    return (
        f"{advice} Without a domain this is a workgroup login: name the local account as "
        f"{host}\\{user}; local administrators other than the built-in Administrator also need "
        f"LocalAccountTokenFilterPolicy=1 on {host}. Windows clients reach workgroup hosts only "
        f"over HTTPS or with the host in TrustedHosts; psfleet needs no TrustedHosts, but use "
        "--ssl --ca-file so that the host proves who it is."
    )


async def check_quota(probe: Probe) -> Check:
    fault = probe.findings.quota_fault
    if fault is None:
        return Check.passed(QUOTA, "a shell opened: headroom for at least one more session")
    setting = "MaxConcurrentUsers" if "users" in fault.message.lower() else "MaxShellsPerUser"
    return Check.failed(
        QUOTA,
        fault.message,
        f"Close idle sessions on {probe.name} (`Get-PSSession -ComputerName {probe.name} | "
        "Remove-PSSession`, or wait for their idle timeout), or raise the quota there: "
        f'`winrm set winrm/config/winrs @{{{setting}="<n>"}}` (Windows defaults: '
        "MaxShellsPerUser 30, MaxConcurrentUsers 10).",
    )

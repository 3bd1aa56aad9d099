"""Before WinRM: does the name resolve, and does anything accept TCP on the WinRM port?"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

import anyio

from psfleet.doctor.context import Probe
from psfleet.doctor.model import Check

RESOLVE = "resolve"
TCP = "tcp"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def check_resolve(probe: Probe) -> Check:
    where = probe.connect_to
    if _is_address(where):
        probe.findings.addresses = [where]
        via = "" if where == probe.name else f" ({probe.name}'s address from the inventory)"
        return Check.passed(RESOLVE, f"{where} is an address{via}")
    with anyio.move_on_after(probe.options.timeouts.connect) as scope:
        try:
            infos = await anyio.getaddrinfo(where, probe.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return Check.failed(RESOLVE, f"{where} does not resolve: {exc}", _resolve_remedy(where))
    if scope.cancelled_caught:
        return Check.failed(
            RESOLVE,
            f"no DNS answer for {where} within {probe.options.timeouts.connect:g}s",
            _resolve_remedy(where),
        )
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    probe.findings.addresses = addresses
    return Check.passed(RESOLVE, f"{where} → {', '.join(addresses)}")


def _resolve_remedy(name: str) -> str:
    return (
        f"Register {name} in DNS or /etc/hosts, or connect by address: an --inventory entry "
        f"`{name}: {{ansible_host: <address>}}` keeps the name for TLS and Kerberos."
    )


async def check_tcp(probe: Probe) -> Check:
    """Each resolved address in turn, like a client falling back from IPv6 to IPv4."""
    limit = probe.options.timeouts.connect
    outcomes: list[str] = []
    refused = False
    for address in probe.findings.addresses:
        with anyio.move_on_after(limit) as scope:
            try:
                stream = await anyio.connect_tcp(address, probe.port)
            except OSError as exc:
                cause = _root_os_error(exc)
                refused = refused or cause.errno == errno.ECONNREFUSED
                reason = os.strerror(cause.errno) if cause.errno else str(cause)
                outcomes.append(f"{address}:{probe.port} {reason}")
                continue
            await stream.aclose()
            probe.findings.reachable = address
            return Check.passed(TCP, f"{address}:{probe.port} accepts connections")
        if scope.cancelled_caught:
            outcomes.append(f"{address}:{probe.port} no answer within {limit:g}s")
    return Check.failed(TCP, "; ".join(outcomes), _tcp_remedy(probe, refused=refused))


def _root_os_error(exc: OSError) -> OSError:
    """anyio raises "All connection attempts failed" from the socket's own error."""
    cause = exc.__cause__
    return cause if isinstance(cause, OSError) else exc


def _tcp_remedy(probe: Probe, *, refused: bool) -> str:
    rule = "HTTPS-In" if probe.endpoint.tls else "HTTP-In"
    enable = (
        f"On {probe.name}: `Enable-PSRemoting -Force` (starts WinRM and creates the listener) "
        f"and enable the firewall rule `Windows Remote Management ({rule})`"
    )
    if probe.endpoint.tls:
        enable += (
            "; an HTTPS listener also needs `New-Item WSMan:\\localhost\\Listener -Transport HTTPS "
            "-Address * -CertificateThumbprint <thumbprint>`"
        )
    if refused:
        default = 5986 if probe.endpoint.tls else 5985
        return f"{enable}. Check the port too: WinRM listens on {default} by default."
    return (
        f"Nothing answered: a firewall on the way or on {probe.name} drops the packets, or the "
        f"host is down. {enable}."
    )

"""Loopback addresses for simulated hosts: one 127.x.y.z per host, counted up from a base."""

from __future__ import annotations

import ipaddress

from psfleet.errors import UsageError

_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def allocate(base: str, count: int) -> list[str]:
    """`count` consecutive loopback addresses from `base`, skipping .0 and .255 host parts."""
    try:
        current = ipaddress.IPv4Address(base)
    except ValueError as exc:
        raise UsageError(f"--base-address {base!r} is not an IPv4 address") from exc
    addresses: list[str] = []
    while len(addresses) < count:
        if current not in _LOOPBACK:
            raise UsageError(f"{count} hosts from {base} leave the loopback range 127.0.0.0/8")
        if current.packed[-1] not in (0, 255):
            addresses.append(str(current))
        current += 1
    return addresses

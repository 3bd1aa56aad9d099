"""Host-name rules: what a valid name looks like, and an ordered, case-insensitive set of names."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from psfleet.errors import UsageError

MAX_HOSTS = 100_000
"""Upper bound on the hosts one resolution may produce, so a typo cannot exhaust memory."""

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def is_ipv4(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def is_host_name(name: str) -> bool:
    """A DNS name (underscores allowed, as NetBIOS names have them) or an IPv4 literal."""
    if not name or len(name) > 253:
        return False
    labels = name.removesuffix(".").split(".")
    # All-numeric dotted names are IPv4 or nothing: '10.0.0.256' is a typo, not a host.
    if all(label.isascii() and label.isdigit() for label in labels):
        return is_ipv4(name)
    return all(_LABEL.fullmatch(label) for label in labels)


class UniqueNames:
    """Names in first-seen order, deduplicated case-insensitively (DNS names are)."""

    def __init__(self, limit: int = MAX_HOSTS) -> None:
        self._names: dict[str, str] = {}
        self._limit = limit

    def add(self, names: Iterable[str]) -> None:
        for name in names:
            self._names.setdefault(name.casefold(), name)
        if len(self._names) > self._limit:
            raise UsageError(f"targets expand to more than the limit of {self._limit} hosts")

    def __contains__(self, name: str) -> bool:
        return name.casefold() in self._names

    def names(self) -> list[str]:
        return list(self._names.values())

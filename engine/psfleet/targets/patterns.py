"""Ansible-style host patterns over an inventory.

A pattern is terms joined by ',' or ':' (outside [...]): plain terms are unioned, then
'&term' intersects and '!term' excludes, whatever their order. With only '&'/'!' terms
the base is `all`. A term is `all` or `*`, a group or host name, a glob (node0*), a
range (node[01-04]), or @FILE (each line a pattern). A name the inventory does not know
is taken as an ad-hoc host only if it is an FQDN or an IPv4 literal; any other unknown
name is a UsageError, because it is far more often a typo than a host.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from psfleet.errors import UsageError
from psfleet.targets.expressions import file_reference, read_target_file, split_terms
from psfleet.targets.inventory import ALL, Inventory
from psfleet.targets.names import MAX_HOSTS, UniqueNames, is_host_name
from psfleet.targets.ranges import expand_ranges


def select_hosts(
    inventory: Inventory, patterns: Sequence[str], *, limit: int = MAX_HOSTS
) -> list[str]:
    """The union of each pattern's hosts, in order, deduplicated case-insensitively."""
    names = UniqueNames(limit)
    for pattern in patterns:
        names.add(_select(inventory, pattern, allow_files=True, limit=limit))
    return names.names()


def _select(inventory: Inventory, pattern: str, *, allow_files: bool, limit: int) -> list[str]:
    union: list[list[str]] = []
    intersections: list[list[str]] = []
    exclusions: list[list[str]] = []
    for term in split_terms(pattern, separators=",:"):
        bucket = {"&": intersections, "!": exclusions}.get(term[0], union)
        body = term[1:].strip() if bucket is not union else term
        if not body:
            raise UsageError(f"{term!r} in pattern {pattern!r} needs a name after it")
        bucket.append(_term(inventory, body, allow_files=allow_files, limit=limit))
    names = UniqueNames(limit)
    for hosts in union or [inventory.hosts_of(ALL)]:
        names.add(hosts)
    selected = names.names()
    for hosts in intersections:
        keep = {host.casefold() for host in hosts}
        selected = [host for host in selected if host.casefold() in keep]
    for hosts in exclusions:
        drop = {host.casefold() for host in hosts}
        selected = [host for host in selected if host.casefold() not in drop]
    return selected


def _term(inventory: Inventory, term: str, *, allow_files: bool, limit: int) -> list[str]:
    if term.startswith("@"):
        if not allow_files:
            raise UsageError(f"a target file cannot include another ({term!r})")
        path = file_reference(term)
        return [
            host
            for line in read_target_file(path)
            for host in _select(inventory, line, allow_files=False, limit=limit)
        ]
    names = expand_ranges(term, separator="-", limit=limit)
    return [host for name in names for host in _name(inventory, name)]


def _name(inventory: Inventory, name: str) -> list[str]:
    if name in (ALL, "*"):
        return inventory.hosts_of(ALL)
    if "*" in name or "?" in name:
        return _glob(inventory, name)
    group = inventory.find_group(name)
    if group is not None:
        return inventory.hosts_of(group)
    host = inventory.find_host(name)
    if host is not None:
        return [host]
    if is_host_name(name) and "." in name.strip("."):  # an FQDN or an IPv4 literal
        return [name]
    raise UsageError(
        f"no host or group matches {name!r} in inventory {inventory.source} "
        "(hosts outside the inventory must be given as an FQDN or IP address)"
    )


def _glob(inventory: Inventory, pattern: str) -> list[str]:
    folded = pattern.casefold()
    hosts = [h for h in inventory.host_names if fnmatchcase(h.casefold(), folded)]
    for group in inventory.group_names:
        if fnmatchcase(group.casefold(), folded):
            hosts += inventory.hosts_of(group)
    if not hosts:
        raise UsageError(f"no host or group matches {pattern!r} in inventory {inventory.source}")
    return hosts

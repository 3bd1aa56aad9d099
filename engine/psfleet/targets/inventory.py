"""Inventory: groups of hosts with variables, as Ansible models them, and how to build one.

Every host belongs to `all`. A group's members are its own hosts plus its children's.
A host's variables merge, lowest to highest: `all`, then its groups from shallow to deep
(same depth: by name, as Ansible does), then the host's own vars.
Inventory format plugins build one with `InventoryBuilder`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from psfleet.errors import UsageError
from psfleet.targets.model import Target, VarValue

ALL = "all"
UNGROUPED = "ungrouped"

# Characters that would make a name ambiguous in a pattern (a:b, a,b, !x, &x, x*, @file, [1-3]).
_BAD_NAME = re.compile(r"[\s,:!&*?@\[\]]")


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    hosts: tuple[str, ...]
    children: tuple[str, ...]
    vars: Mapping[str, VarValue]


class Inventory:
    """Hosts and groups, queried by name case-insensitively (exact case wins on a clash)."""

    def __init__(
        self, source: str, hosts: Mapping[str, Mapping[str, VarValue]], groups: Mapping[str, Group]
    ) -> None:
        self.source = source
        self._hosts = dict(hosts)
        self._groups = dict(groups)
        self._host_index = _index(hosts)
        self._group_index = _index(groups)
        self._members: dict[str, frozenset[str]] = {}
        self._depth: dict[str, int] = {}
        for name in groups:
            self._collect(name, ())
            self._depth_of(name)

    def __repr__(self) -> str:
        return f"Inventory({self.source!r}, {len(self._hosts)} hosts, {len(self._groups)} groups)"

    @property
    def host_names(self) -> tuple[str, ...]:
        return tuple(self._hosts)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(self._groups)

    def group(self, name: str) -> Group:
        return self._groups[name]

    def find_host(self, name: str) -> str | None:
        return name if name in self._hosts else self._host_index.get(name.casefold())

    def find_group(self, name: str) -> str | None:
        return name if name in self._groups else self._group_index.get(name.casefold())

    def hosts_of(self, group: str) -> list[str]:
        """The group's hosts, its children's included, in inventory order."""
        members = self._members[group]
        return [host for host in self._hosts if host in members]

    def groups_of(self, host: str) -> list[str]:
        """Every group holding the host, in variable precedence order (lowest first)."""
        groups = [name for name, members in self._members.items() if host in members]
        return sorted(groups, key=lambda name: (self._depth[name], name))

    def host_vars(self, host: str) -> dict[str, VarValue]:
        merged: dict[str, VarValue] = {}
        for group in self.groups_of(host):
            merged.update(self._groups[group].vars)
        merged.update(self._hosts[host])
        return merged

    def target(self, host: str, *, default_port: int | None = None) -> Target:
        return Target.from_vars(host, self.host_vars(host), default_port=default_port)

    def _collect(self, group: str, path: tuple[str, ...]) -> frozenset[str]:
        if group in path:
            cycle = " -> ".join((*path[path.index(group) :], group))
            raise UsageError(f"{self.source}: groups contain each other: {cycle}")
        if group not in self._members:
            found = set(self._hosts if group == ALL else self._groups[group].hosts)
            for child in self._groups[group].children:
                found |= self._collect(child, (*path, group))
            self._members[group] = frozenset(found)
        return self._members[group]

    def _depth_of(self, group: str) -> int:
        """Longest path from `all`: deeper groups are more specific, so their vars win."""
        if group not in self._depth:
            parents = [name for name, g in self._groups.items() if group in g.children]
            self._depth[group] = max((self._depth_of(p) + 1 for p in parents), default=0)
        return self._depth[group]


@dataclass
class _Draft:
    hosts: dict[str, None] = field(default_factory=dict)
    children: dict[str, None] = field(default_factory=dict)
    vars: dict[str, VarValue] = field(default_factory=dict)


class InventoryBuilder:
    """Collects hosts, groups and vars in file order; `build()` checks and freezes them.

    Groups are created on first mention; a group nobody lists as a child hangs under `all`;
    hosts only in `all` also land in `ungrouped`. Repeated mentions merge (later vars win).
    Variable values must be str, int or bool; None and nested values are dropped
    because psfleet reads none of them.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._hosts: dict[str, dict[str, VarValue]] = {}
        self._groups: dict[str, _Draft] = {ALL: _Draft(), UNGROUPED: _Draft()}

    def add_group(self, name: str, vars: Mapping[str, object] | None = None) -> None:
        self._group(name).vars.update(_scalars(vars))

    def add_host(
        self, name: str, vars: Mapping[str, object] | None = None, *, group: str = ALL
    ) -> None:
        self._check_name(name, "host")
        self._hosts.setdefault(name, {}).update(_scalars(vars))
        self._group(group).hosts[name] = None

    def add_child(self, parent: str, child: str) -> None:
        self._group(child)
        self._group(parent).children[child] = None

    def build(self) -> Inventory:
        listed = {child for draft in self._groups.values() for child in draft.children}
        for name in list(self._groups):
            if name != ALL and name not in listed:
                self.add_child(ALL, name)
        grouped = {
            h for name, d in self._groups.items() if name not in (ALL, UNGROUPED) for h in d.hosts
        }
        for host in self._hosts:
            if host not in grouped:
                self._group(UNGROUPED).hosts[host] = None
        groups = {
            name: Group(name, tuple(d.hosts), tuple(d.children), MappingProxyType(d.vars))
            for name, d in self._groups.items()
        }
        return Inventory(self._source, self._hosts, groups)

    def _group(self, name: str) -> _Draft:
        if name not in self._groups:
            self._check_name(name, "group")
            self._groups[name] = _Draft()
        return self._groups[name]

    def _check_name(self, name: str, kind: str) -> None:
        if not name or _BAD_NAME.search(name):
            raise UsageError(
                f"{self._source}: {kind} name {name!r} is empty or has a space or one of ,:!&*?@[]"
            )


def _scalars(vars: Mapping[str, object] | None) -> dict[str, VarValue]:
    if vars is None:
        return {}
    if not isinstance(vars, Mapping):
        raise UsageError(f"variables must be a mapping of names to values, not {vars!r}")
    return {str(k): v for k, v in vars.items() if isinstance(v, str | int | bool)}


def _index(names: Sequence[str] | Mapping[str, object]) -> dict[str, str]:
    index: dict[str, str] = {}
    for name in names:
        index.setdefault(name.casefold(), name)
    return index

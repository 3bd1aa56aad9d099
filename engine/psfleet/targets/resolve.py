"""resolve_targets: the one call that turns TARGETS and options into hosts to connect to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from psfleet.errors import UsageError
from psfleet.targets.expressions import expand_expressions
from psfleet.targets.formats import load_inventory
from psfleet.targets.inventory import Inventory
from psfleet.targets.model import Target
from psfleet.targets.names import MAX_HOSTS, UniqueNames
from psfleet.targets.patterns import select_hosts
from psfleet.targets.plugin import InventoryFormat


def resolve_targets(
    expressions: Sequence[str],
    inventory_path: Path | None,
    default_port: int | None = None,
    *,
    formats: Mapping[str, InventoryFormat] | None = None,
    limit: int = MAX_HOSTS,
) -> list[Target]:
    """Hosts in order, without duplicates; a UsageError before anything runs if input is bad.

    Without an inventory the expressions are host names, ranges and @files. With one, each
    expression is an Ansible-style pattern over it. `default_port` applies where the
    inventory sets no ansible_port; None leaves the choice to the scheme (5985/5986).
    `formats` replaces the installed inventory plugins (for embedding and tests).
    """
    if not any(expression.strip() for expression in expressions):
        raise UsageError("no targets given: name hosts (a,b), ranges (node[01-64]) or @file")
    if inventory_path is None:
        names = expand_expressions(expressions, limit=limit)
        targets = [Target(name, name, default_port) for name in names]
    else:
        inventory = load_inventory(inventory_path, formats)
        names = select_hosts(inventory, expressions, limit=limit)
        targets = [inventory_target(inventory, name, default_port) for name in names]
    if not targets:
        where = f" in inventory {inventory_path}" if inventory_path else ""
        raise UsageError(f"{' '.join(expressions)!r} matches no hosts{where}")
    return targets


def merge_targets(*groups: Iterable[Target]) -> list[Target]:
    """Concatenate target lists, keeping the first target of each name (case-insensitive)."""
    seen = UniqueNames()
    merged: list[Target] = []
    for group in groups:
        for target in group:
            if target.name not in seen:
                seen.add([target.name])
                merged.append(target)
    return merged


def inventory_target(inventory: Inventory | None, name: str, default_port: int | None) -> Target:
    """The inventory's target for a name it knows; a bare target for any other name."""
    host = inventory.find_host(name) if inventory is not None else None
    if inventory is None or host is None:
        return Target(name, name, default_port)
    return inventory.target(host, default_port=default_port)

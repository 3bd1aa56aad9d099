"""Plain host lists: one target expression per line (names, a,b lists, node[01-64] ranges)."""

from __future__ import annotations

from pathlib import Path

from psfleet.targets import Inventory, InventoryBuilder, expand_file, first_significant_line

_SUFFIXES = frozenset({".txt", ".list", ".hosts"})


class HostListFormat:
    name = "hostlist"

    def can_load(self, path: Path) -> bool:
        if path.suffix.lower() in _SUFFIXES:
            return True
        # A suffix-less file is a host list when its first line is neither INI ([group],
        # a=b) nor YAML (key:): the other built-ins claim exactly those.
        line = first_significant_line(path)
        if path.suffix or line is None:
            return False
        return not line.startswith("[") and "=" not in line and ":" not in line

    def load(self, path: Path) -> Inventory:
        builder = InventoryBuilder(str(path))
        for name in expand_file(path):
            builder.add_host(name)
        return builder.build()

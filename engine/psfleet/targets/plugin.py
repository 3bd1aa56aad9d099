"""The inventory plugin interface: what a third-party inventory format implements.

Register it under the `psfleet.plugins` entry-point group with a name `inventory.NAME`;
the class is instantiated with no arguments. `can_load` should be cheap and specific
(suffix, first line): two formats that both claim a file are an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, TypeGuard, runtime_checkable

from psfleet.targets.inventory import Inventory


@runtime_checkable
class InventoryFormat(Protocol):
    name: str

    def can_load(self, path: Path) -> bool:
        """Whether this format recognises the file; must not raise for unreadable files."""
        ...

    def load(self, path: Path) -> Inventory:
        """Parse the file; raise psfleet.errors.UsageError with a clear message on bad input."""
        ...


def is_inventory_format(plugin: object) -> TypeGuard[InventoryFormat]:
    return isinstance(plugin, InventoryFormat)

"""Choose the inventory format plugin that recognises a file, and load the file with it."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from psfleet.errors import UsageError
from psfleet.plugin_loader import PluginSet, load_plugins
from psfleet.targets.inventory import Inventory
from psfleet.targets.plugin import InventoryFormat, is_inventory_format


def inventory_formats() -> PluginSet[InventoryFormat]:
    return load_plugins("inventory", is_inventory_format)


def load_inventory(path: Path, formats: Mapping[str, InventoryFormat] | None = None) -> Inventory:
    """Load `path` with the one format that claims it (by default: every installed plugin)."""
    if not path.is_file():
        raise UsageError(f"inventory {path} does not exist or is not a file")
    broken: list[tuple[str, str]] = []
    if formats is None:
        plugins = inventory_formats()
        formats, broken = plugins.loaded, list(plugins.broken)
    claims: list[tuple[str, InventoryFormat]] = []
    for name, fmt in formats.items():
        try:
            if fmt.can_load(path):
                claims.append((name, fmt))
        except Exception as exc:  # one faulty plugin must not hide the others
            broken.append((name, f"can_load failed: {type(exc).__name__}: {exc}"))
    if len(claims) != 1:
        raise UsageError(_no_single_claim(path, formats, claims, broken))
    name, fmt = claims[0]
    try:
        inventory = fmt.load(path)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"inventory plugin {name!r} failed on {path}: {exc!r}") from exc
    if not isinstance(inventory, Inventory):
        raise UsageError(f"inventory plugin {name!r} returned {type(inventory).__name__}")
    return inventory


def _no_single_claim(
    path: Path,
    formats: Mapping[str, InventoryFormat],
    claims: list[tuple[str, InventoryFormat]],
    broken: list[tuple[str, str]],
) -> str:
    if claims:
        names = ", ".join(name for name, _ in claims)
        return f"inventory {path} is claimed by several formats ({names}); give it one's suffix"
    message = (
        f"no inventory format recognises {path} (known formats: {', '.join(formats) or 'none'})"
    )
    if broken:
        message += "; broken plugins: " + "; ".join(f"{n}: {why}" for n, why in broken)
    return message

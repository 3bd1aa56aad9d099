"""Load plugins from the `psfleet.plugins` entry-point group, one kind at a time.

Entry points are named KIND.NAME (inventory.yaml, sink.jsonl) and point to a class or a
zero-argument factory. Built-in plugins are loaded exactly like third-party ones. A
plugin that fails to import, to construct, or is not what its kind expects is reported
by name in `PluginSet.broken` and never stops the others from loading. When several
distributions offer the same KIND.NAME, the first on sys.path wins (as with imports)
and the others are reported as duplicates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, Generic, TypeGuard, TypeVar, overload

GROUP = "psfleet.plugins"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PluginSet(Generic[T]):
    kind: str
    loaded: Mapping[str, T]
    broken: Sequence[tuple[str, str]]
    """(plugin name, why it could not be loaded), in entry-point order."""


@functools.cache
def _scan() -> tuple[EntryPoint, ...]:
    # Scanning every installed distribution's metadata is the slow part; do it once.
    return tuple(entry_points(group=GROUP))


def rescan_plugins() -> None:
    """Forget the cached scan, e.g. after installing a plugin or changing sys.path."""
    _scan.cache_clear()


@overload
def load_plugins(kind: str) -> PluginSet[object]: ...
@overload
def load_plugins(kind: str, accept: Callable[[object], TypeGuard[T]]) -> PluginSet[T]: ...
def load_plugins(
    kind: str, accept: Callable[[object], TypeGuard[Any]] | None = None
) -> PluginSet[Any]:
    """Instantiate every plugin of `kind`; `accept` says whether an instance is of that kind."""
    loaded: dict[str, Any] = {}
    broken: list[tuple[str, str]] = []
    seen: set[str] = set()
    for entry in _scan():
        entry_kind, dot, name = entry.name.partition(".")
        if entry_kind != kind or not dot:
            continue
        if name in seen:
            broken.append((name, f"duplicate plugin name; {entry.value} ignored"))
            continue
        seen.add(name)
        try:
            plugin = _instantiate(entry)
        except Exception as exc:  # a plugin's bug must not take the others down
            broken.append((name, f"{entry.value}: {type(exc).__name__}: {exc}"))
            continue
        if accept is not None and not accept(plugin):
            broken.append(
                (
                    name,
                    f"{entry.value} gives a {type(plugin).__name__}, not a plugin of kind {kind!r}",
                )
            )
            continue
        loaded[name] = plugin
    return PluginSet(kind, MappingProxyType(loaded), tuple(broken))


def _instantiate(entry: EntryPoint) -> object:
    factory = entry.load()
    if not callable(factory):
        raise TypeError(f"{type(factory).__name__} is not a class or factory")
    return factory()

"""Sinks by name (console, jsonl, outdir, third-party), loaded through the plugin loader.

A sink plugin registers a class under `psfleet.plugins` as `sink.NAME`. The loader builds
each with no arguments to check that it loads and has an async `handle(event)`; `load_sink`
then builds the one asked for with the caller's keyword arguments.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeGuard

from psfleet.errors import UsageError
from psfleet.fanout.api import Sink
from psfleet.plugin_loader import PluginSet, load_plugins


def is_sink(plugin: object) -> TypeGuard[Sink]:
    return inspect.iscoroutinefunction(getattr(plugin, "handle", None))


def available_sinks() -> PluginSet[Sink]:
    """Every installed sink plugin, and the broken ones with the reason."""
    return load_plugins("sink", is_sink)


def load_sink(name: str, **kwargs: Any) -> Sink:
    """The sink registered as `sink.NAME`, built with kwargs; UsageError says why not."""
    plugins = available_sinks()
    broken = dict(plugins.broken)
    if name in broken:
        raise UsageError(f"sink plugin {name!r} is broken: {broken[name]}")
    if name not in plugins.loaded:
        known = ", ".join(sorted(plugins.loaded)) or "none"
        raise UsageError(f"unknown sink {name!r} (installed sinks: {known})")
    default = plugins.loaded[name]
    if not kwargs:
        return default
    factory: Any = type(default)
    try:
        sink: Sink = factory(**kwargs)
    except Exception as exc:  # wrong options or a plugin bug: name it, do not crash the CLI
        raise UsageError(
            f"sink {name!r} could not be created: {type(exc).__name__}: {exc}"
        ) from exc
    return sink

"""Ansible YAML inventories: all: {hosts: {...}, vars: {...}, children: {group: {...}}}."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from psfleet.errors import UsageError
from psfleet.targets import (
    Inventory,
    InventoryBuilder,
    expand_ranges,
    first_significant_line,
    read_text,
)

# libyaml's safe loader parses a 5000-host inventory ~20x faster than the pure-Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SUFFIXES = frozenset({".yml", ".yaml"})
_GROUP_KEYS = frozenset({"hosts", "vars", "children"})
# 'all:' or '---' on the first line of a suffix-less file.
_YAML_START = re.compile(r"---.*|[^\s=\[#][^\s=]*:\s*(#.*)?")


class YamlInventoryFormat:
    name = "yaml"

    def can_load(self, path: Path) -> bool:
        if path.suffix.lower() in _SUFFIXES:
            return True
        line = first_significant_line(path)
        return path.suffix == "" and line is not None and bool(_YAML_START.fullmatch(line))

    def load(self, path: Path) -> Inventory:
        try:
            data = yaml.load(read_text(path, "inventory"), Loader=_SAFE_LOADER)
        except yaml.YAMLError as exc:
            raise UsageError(f"inventory {path} is not valid YAML: {exc}") from exc
        builder = InventoryBuilder(str(path))
        if data is not None:
            for group, body in _mapping(data, f"inventory {path}").items():
                _load_group(builder, str(group), body, None, path)
        return builder.build()


def _load_group(
    builder: InventoryBuilder, name: str, body: object, parent: str | None, path: Path
) -> None:
    where = f"group {name!r} in {path}"
    body = _mapping(body, where)
    unknown = set(body) - _GROUP_KEYS
    if unknown:
        raise UsageError(
            f"{where} has unknown keys {sorted(map(str, unknown))}; expected hosts, vars, children"
        )
    builder.add_group(name, _mapping(body.get("vars"), f"vars of {where}"))
    if parent is not None:
        builder.add_child(parent, name)
    for host, host_vars in _mapping(body.get("hosts"), f"hosts of {where}").items():
        for host_name in expand_ranges(str(host), separator=":"):
            builder.add_host(host_name, _mapping(host_vars, f"host {host!r} in {path}"), group=name)
    for child, child_body in _mapping(body.get("children"), f"children of {where}").items():
        _load_group(builder, str(child), child_body, name, path)


def _mapping(value: object, where: str) -> dict[str, object]:
    """YAML leaves empty sections as None; anything else must be a mapping."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a mapping, not {type(value).__name__}")
    return {str(key): item for key, item in value.items()}

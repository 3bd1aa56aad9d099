"""Ansible INI inventories: [group], host key=value, [group:vars], [group:children]."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from psfleet.errors import UsageError
from psfleet.targets import (
    Inventory,
    InventoryBuilder,
    VarValue,
    expand_ranges,
    first_significant_line,
    read_text,
)

_SECTION = re.compile(r"\[\s*([^\[\]:\s]+)\s*(?::\s*(vars|children)\s*)?\]")
_INTEGER = re.compile(r"-?(0|[1-9]\d*)")


class IniInventoryFormat:
    name = "ini"

    def can_load(self, path: Path) -> bool:
        if path.suffix.lower() == ".ini":
            return True
        line = first_significant_line(path)
        return path.suffix == "" and line is not None and (line.startswith("[") or "=" in line)

    def load(self, path: Path) -> Inventory:
        builder = InventoryBuilder(str(path))
        group, section = "all", "hosts"
        for number, raw in enumerate(read_text(path, "inventory").splitlines(), start=1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            try:
                if line.startswith("["):
                    group, section = _section(line)
                    builder.add_group(group)
                elif section == "hosts":
                    _host_line(builder, group, line)
                elif section == "vars":
                    key, value = _assignment(line)
                    builder.add_group(group, {key: value})
                else:
                    builder.add_child(group, line)
            except UsageError as exc:
                raise UsageError(f"{path}:{number}: {exc.message}") from exc
        return builder.build()


def _section(line: str) -> tuple[str, str]:
    match = _SECTION.fullmatch(line)
    if match is None:
        raise UsageError(
            f"malformed section header {line!r}: expected [group], [group:vars] or [group:children]"
        )
    return match.group(1), match.group(2) or "hosts"


def _host_line(builder: InventoryBuilder, group: str, line: str) -> None:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from exc
    host_vars: dict[str, VarValue] = {}
    for word in words[1:]:
        key, value = _assignment(word)
        host_vars[key] = _literal(value)
    for name in expand_ranges(words[0], separator=":"):
        builder.add_host(name, host_vars, group=group)


def _assignment(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise UsageError(f"expected key=value, got {text!r}")
    return key.strip(), value.strip().strip("'\"")


def _literal(value: str) -> VarValue:
    """Host-line values are literals as in Ansible (5986, True); [group:vars] values stay text."""
    if _INTEGER.fullmatch(value):
        return int(value)
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value

"""Out-String: how PowerShell's default views print objects (the common cases).

Services get their default table view (pypsrp's execute_ps relies on it);
other objects get the list view; scalars print as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psrpcore.types import PSEnumBase, PSObject

from psfleet.simfleet.minips.values import get_member, to_string

# type name -> (column, width); widths are those of PowerShell 5.1's format files.
_TABLE_VIEWS = {
    "System.ServiceProcess.ServiceController": (("Status", 8), ("Name", 18), ("DisplayName", 38)),
}


def out_string(values: Sequence[Any]) -> list[str]:
    lines: list[str] = []
    view_type: str | None = None
    formatted = False
    for value in values:
        type_name = _complex_type(value)
        if type_name is None:
            view_type = None
            lines.extend(to_string(value).splitlines() or [""])
            continue
        formatted = True
        columns = _TABLE_VIEWS.get(type_name)
        if columns is None:
            view_type = None
            lines.extend(["", *_list_view(value)])
            continue
        if view_type != type_name:
            lines.extend(
                [
                    "",
                    _row([c for c, _ in columns], columns),
                    _row(["-" * len(c) for c, _ in columns], columns),
                ]
            )
            view_type = type_name
        lines.append(_row([to_string(get_member(value, c)) for c, _ in columns], columns))
    if formatted:
        lines.extend(["", ""])
    return lines


def _complex_type(value: Any) -> str | None:
    if isinstance(value, PSObject) and not isinstance(value, (str, int, float, PSEnumBase)):
        names = value.PSObject.type_names
        return str(names[0]).removeprefix("Deserialized.") if names else "System.Object"
    return None


def _row(cells: list[str], columns: Sequence[tuple[str, int]]) -> str:
    out = []
    for cell, (_, width) in zip(cells, columns, strict=True):
        text = cell if len(cell) <= width else cell[: width - 3] + "..."
        out.append(text.ljust(width))
    return " ".join(out)


def _list_view(value: PSObject) -> list[str]:
    meta = value.PSObject
    props = [
        (p.name, p.get_value(value)) for p in (*meta.adapted_properties, *meta.extended_properties)
    ]
    width = max((len(name) for name, _ in props), default=0)
    return [f"{name.ljust(width)} : {to_string(v)}" for name, v in props]

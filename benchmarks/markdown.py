"""The cells and goal rows the generated blocks of docs/performance.md share."""

from __future__ import annotations

from typing import Any


def num(value: Any, digits: int = 1) -> str:
    """A table cell: a float with `digits` decimals and thousands commas, `-` for None."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def goal_row(name: str, target: str, value: str, met: bool | None, note: str = "") -> str:
    """A row of a goals table: `met`, `**not met**`, or `not measured` when met is None."""
    verdict = "not measured" if met is None else ("met" if met else "**not met**")
    return f"| {name} | {target} | {value} | {verdict} | {note} |"

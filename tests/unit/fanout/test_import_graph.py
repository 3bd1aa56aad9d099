"""The fan-out's modules import one another in one direction only: no cycle, even for types.

Read from the source (every import, TYPE_CHECKING ones too), so a cycle that only a type
checker follows fails here as well. `from psfleet.fanout import x` counts as importing the
module x when there is one.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import psfleet.fanout

PACKAGE = "psfleet.fanout"
FOLDER = Path(psfleet.fanout.__file__).parent


def _modules() -> dict[str, Path]:
    return {
        PACKAGE if path.stem == "__init__" else f"{PACKAGE}.{path.stem}": path
        for path in FOLDER.glob("*.py")
    }


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found & modules.keys()


def test_no_module_of_the_fan_out_takes_part_in_an_import_cycle() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert {"psfleet.fanout.attempt", "psfleet.fanout.pools"} <= graph.keys()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None
    assert order.index("psfleet.fanout.attempt") < order.index("psfleet.fanout.pools")


def test_relative_imports_are_not_used_so_the_graph_above_sees_every_import() -> None:
    relative = [
        f"{path.name}:{node.lineno}"
        for path in _modules().values()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level
    ]
    assert relative == []

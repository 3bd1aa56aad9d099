"""Every PowerShell script psfleet sends to a host parses with a real PowerShell grammar."""

from __future__ import annotations

import pytest
import tree_sitter
import tree_sitter_powershell

from psfleet.bench.probe import DEFAULT_SCRIPT
from psfleet.transfer import scripts

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

# Scripts psfleet builds in code (doctor's second hop, cluster expansion, bench probe).
_INLINE = {
    "doctor second hop": "Invoke-Command -ComputerName 'node02' -ScriptBlock { $env:COMPUTERNAME }",
    "cluster nodes": "Get-ClusterNode | Select-Object -ExpandProperty Name",
    "bench probe": DEFAULT_SCRIPT,
}


def syntax_errors(text: str) -> list[str]:
    """Where the grammar found an error or had to invent a missing token (line:column)."""
    found: list[str] = []
    pending = [_PARSER.parse(text.encode("utf-8")).root_node]
    while pending:
        node = pending.pop()
        if node.is_error or node.is_missing:
            row, column = node.start_point
            found.append(f"{row + 1}:{column + 1} {node.type}")
        elif node.has_error:
            pending.extend(node.children)
    return found


@pytest.mark.parametrize("name", scripts.NAMES)
def test_transfer_script_is_valid_powershell(name: str) -> None:
    assert syntax_errors(scripts.script(name)) == []


@pytest.mark.parametrize("name", sorted(_INLINE))
def test_inline_script_is_valid_powershell(name: str) -> None:
    assert syntax_errors(_INLINE[name]) == []


@pytest.mark.parametrize(
    "broken",
    [
        "if ($true { 'x' }",  # unclosed parenthesis
        "foreach ($x in 1..3) { $x",  # unclosed block
        "$s = 'unterminated",
        scripts.script("push").replace("process {", "process ", 1),
    ],
)
def test_a_broken_script_is_caught(broken: str) -> None:
    assert syntax_errors(broken) != []


def test_every_script_names_the_windows_it_needs() -> None:
    for name, text in scripts.all_scripts().items():
        assert "Windows Server 2012 R2" in text, name

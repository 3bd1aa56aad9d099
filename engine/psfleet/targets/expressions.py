"""Target expressions without an inventory: names, a,b,c lists, node[01-64] ranges, @file.

An expression is split at top-level commas into terms; a term is a host name or IPv4
literal with optional numeric ranges, or @PATH naming a file with one expression per
line. The result is ordered by first appearance and deduplicated case-insensitively.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from psfleet.errors import UsageError
from psfleet.targets.files import read_text
from psfleet.targets.names import MAX_HOSTS, UniqueNames, is_host_name
from psfleet.targets.ranges import expand_ranges

# Characters that only make sense as inventory patterns (a:b, web:&prod, all:!x, node0*).
_PATTERN_CHARS = frozenset(":&!*?")


def split_terms(expression: str, separators: str = ",") -> list[str]:
    """Split at separators outside [...], dropping blanks: 'a, node[1-2],b' -> 3 terms."""
    terms: list[str] = []
    current: list[str] = []
    depth = 0
    for char in expression:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        if char in separators and depth == 0:
            terms.append("".join(current))
            current = []
        else:
            current.append(char)
    terms.append("".join(current))
    return [term.strip() for term in terms if term.strip()]


def file_reference(term: str) -> Path:
    """The path named by an @PATH term, relative to the current directory."""
    if not term[1:].strip():
        raise UsageError("'@' must be followed by a file name, e.g. @hosts.txt")
    return Path(term[1:].strip()).expanduser()


def read_target_file(path: Path) -> list[str]:
    """The expressions in a target file: one per line; blank lines and # comments skipped."""
    lines = (line.split("#", 1)[0].strip() for line in read_text(path, "target file").splitlines())
    return [line for line in lines if line]


def expand_file(path: Path, *, limit: int = MAX_HOSTS) -> list[str]:
    """The host names a target file lists (no nested @file)."""
    names = UniqueNames(limit)
    for line in read_target_file(path):
        for term in split_terms(line):
            if term.startswith("@"):
                raise UsageError(f"{path}: a target file cannot include another ({term!r})")
            names.add(_expand_term(term, limit))
    return names.names()


def expand_expressions(expressions: Sequence[str], *, limit: int = MAX_HOSTS) -> list[str]:
    """Every host the expressions name, in order, without duplicates."""
    names = UniqueNames(limit)
    for expression in expressions:
        for term in split_terms(expression):
            if term.startswith("@"):
                names.add(expand_file(file_reference(term), limit=limit))
            else:
                names.add(_expand_term(term, limit))
    return names.names()


def _expand_term(term: str, limit: int) -> list[str]:
    if _PATTERN_CHARS.intersection(term):
        raise UsageError(
            f"{term!r} is an inventory pattern: pass --inventory to select from an inventory, "
            "or separate host names with ','"
        )
    names = expand_ranges(term, separator="-", limit=limit)
    for name in names:
        if not is_host_name(name):
            raise UsageError(f"{name!r} is not a valid host name or IPv4 address")
    return names

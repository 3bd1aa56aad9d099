"""Numeric host ranges: node[01-64] in target expressions, node[01:64] in Ansible inventories.

Several ranges may appear in one name (rack[1-2]-node[01-16]). Padding follows the
start bound: [01-64] gives 01..64, [1-64] gives 1..64. The host count is computed
before anything is generated, so a typo like node[1-99999999] fails fast.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

from psfleet.errors import UsageError
from psfleet.targets.names import MAX_HOSTS

_BRACKET = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True, slots=True)
class _Span:
    start: int
    stop: int
    width: int

    def __len__(self) -> int:
        return self.stop - self.start + 1

    def values(self) -> list[str]:
        return [str(i).zfill(self.width) for i in range(self.start, self.stop + 1)]


def expand_ranges(text: str, *, separator: str = "-", limit: int = MAX_HOSTS) -> list[str]:
    """Expand every [START<separator>END] in `text`; raise UsageError on a bad or empty range."""
    if "[" not in text and "]" not in text:
        return [text]
    segments = _parse(text, separator)
    count = math.prod(len(s) for s in segments if isinstance(s, _Span))
    if count > limit:
        raise UsageError(f"{text!r} expands to {count} hosts, more than the limit of {limit}")
    choices = [s.values() if isinstance(s, _Span) else [s] for s in segments]
    return ["".join(parts) for parts in itertools.product(*choices)]


def _parse(text: str, separator: str) -> list[str | _Span]:
    segments: list[str | _Span] = []
    position = 0
    for match in _BRACKET.finditer(text):
        segments.append(_literal(text[position : match.start()], text, separator))
        segments.append(_span(match.group(1), text, separator))
        position = match.end()
    segments.append(_literal(text[position:], text, separator))
    return segments


def _literal(part: str, text: str, separator: str) -> str:
    if "[" in part or "]" in part:
        raise _malformed(text, separator)
    return part


def _span(body: str, text: str, separator: str) -> _Span:
    match = re.fullmatch(rf"\s*(\d+)\s*{re.escape(separator)}\s*(\d+)\s*", body)
    if match is None:
        raise _malformed(text, separator)
    first, last = match.groups()
    start, stop = int(first), int(last)
    if start > stop:
        raise UsageError(f"empty range [{body}] in {text!r}: {start} is greater than {stop}")
    width = len(first) if first.startswith("0") and len(first) > 1 else 0
    return _Span(start, stop, width)


def _malformed(text: str, separator: str) -> UsageError:
    return UsageError(
        f"malformed range in {text!r}: expected [START{separator}END] with numbers, "
        f"e.g. node[01{separator}64]"
    )

"""The command table: each cmdlet's parameters and its implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psfleet.simfleet.minips.syntax import Position

if TYPE_CHECKING:
    from psfleet.simfleet.minips.evaluator import Runtime

# Parameters every cmdlet accepts; they shape error and stream handling.
COMMON = ("ErrorAction", "WarningAction", "InformationAction", "Verbose", "Debug", "OutVariable")
COMMON_SWITCHES = frozenset({"Verbose", "Debug"})


class Bound:
    """Bound parameters of one invocation, looked up case-insensitively, and where
    the command stands in the script (for error records)."""

    __slots__ = ("name", "pos", "values")

    def __init__(self, name: str, values: dict[str, Any], pos: Position | None) -> None:
        self.name = name  # as invoked
        self.values = values  # canonical name (lower case) -> value
        self.pos = pos

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name.lower(), default)

    def has(self, name: str) -> bool:
        return name.lower() in self.values


CmdletFn = Callable[["Runtime", Bound, Iterator[Any]], Iterator[Any]]


@dataclass(frozen=True, slots=True)
class Cmdlet:
    name: str
    type_name: str  # .NET class, used in FullyQualifiedErrorIds
    fn: CmdletFn
    params: tuple[str, ...] = ()
    switches: frozenset[str] = frozenset()
    positional: tuple[str, ...] = ()
    # The parameter that takes positional arguments beyond `positional`
    # (ValueFromRemainingArguments, as Write-Host's -Object).
    remaining: str | None = None
    # False when output depends on more than (script, host, delegable, args, input).
    pure: bool = True
    aliases: tuple[str, ...] = field(default=())


REGISTRY: dict[str, Cmdlet] = {}


def cmdlet(
    name: str,
    type_name: str,
    params: tuple[str, ...] = (),
    switches: tuple[str, ...] = (),
    positional: tuple[str, ...] = (),
    remaining: str | None = None,
    pure: bool = True,
    aliases: tuple[str, ...] = (),
) -> Callable[[CmdletFn], CmdletFn]:
    """Register fn under name and its aliases."""

    def register(fn: CmdletFn) -> CmdletFn:
        spec = Cmdlet(
            name, type_name, fn, params, frozenset(switches), positional, remaining, pure, aliases
        )
        for key in (name, *aliases):
            REGISTRY[key.lower()] = spec
        return fn

    return register


def lookup(name: str) -> Cmdlet | None:
    return REGISTRY.get(name.lower())

"""The syntax tree of the PowerShell subset: small frozen nodes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Position:
    """Where a node starts, for InvocationInfo and position messages."""

    offset: int
    line: int  # 1-based
    column: int  # 1-based
    length: int


# Expressions ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: Any


@dataclass(frozen=True, slots=True)
class Var:
    name: str  # lower case; "env:computername" for environment variables


@dataclass(frozen=True, slots=True)
class Expandable:
    """A double-quoted string: literal text parts and embedded expressions."""

    parts: tuple[str | Expr, ...]


@dataclass(frozen=True, slots=True)
class ArrayLit:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class SubExpr:
    """$( ... ) and @( ... ): statements whose output is collected."""

    body: Block
    force_array: bool


@dataclass(frozen=True, slots=True)
class HashLit:
    entries: tuple[tuple[Expr, Expr], ...]


@dataclass(frozen=True, slots=True)
class ScriptBlockLit:
    body: Block
    text: str


@dataclass(frozen=True, slots=True)
class Member:
    target: Expr
    name: str
    static: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    target: Expr
    name: str
    args: tuple[Expr, ...]
    static: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    target: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Cast:
    type_name: str  # lower case
    value: Expr


@dataclass(frozen=True, slots=True)
class TypeLit:
    type_name: str


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-not", "-", "+", ","
    value: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # "+", "-", "*", "/", "%", "..", "-eq", "-and", ...
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class PipelineExpr:
    """( pipeline ) used as a value."""

    pipeline: Pipeline


Expr = (
    Const
    | Var
    | Expandable
    | ArrayLit
    | SubExpr
    | HashLit
    | ScriptBlockLit
    | Member
    | Call
    | Index
    | Cast
    | TypeLit
    | Unary
    | Binary
    | PipelineExpr
)

# Commands and statements ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Param:
    """-Name[:value] given to a command; value None means a bare switch or a name
    whose value is the next argument (decided when binding)."""

    name: str  # as written, without the dash
    value: Expr | None
    colon: bool


@dataclass(frozen=True, slots=True)
class CommandCall:
    name: str
    args: tuple[Param | Expr, ...]
    pos: Position


@dataclass(frozen=True, slots=True)
class ExprElement:
    expr: Expr
    pos: Position


@dataclass(frozen=True, slots=True)
class Pipeline:
    elements: tuple[CommandCall | ExprElement, ...]


@dataclass(frozen=True, slots=True)
class Assign:
    target: str  # variable name, lower case
    value: Pipeline


@dataclass(frozen=True, slots=True)
class Throw:
    value: Pipeline | None
    pos: Position


@dataclass(frozen=True, slots=True)
class Exit:
    value: Expr | None


@dataclass(frozen=True, slots=True)
class Return:
    value: Pipeline | None


@dataclass(frozen=True, slots=True)
class If:
    clauses: tuple[tuple[Pipeline, Block], ...]
    otherwise: Block | None


@dataclass(frozen=True, slots=True)
class ForEach:
    var: str
    source: Pipeline
    body: Block


@dataclass(frozen=True, slots=True)
class TryCatch:
    body: Block
    handler: Block | None
    final: Block | None


Statement = Pipeline | Assign | Throw | Exit | Return | If | ForEach | TryCatch


@dataclass(frozen=True, slots=True)
class Block:
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class ParamDecl:
    name: str  # lower case
    default: Expr | None
    type_name: str | None


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script: optional param block and begin/process/end (end when unnamed)."""

    text: str
    params: tuple[ParamDecl, ...]
    begin: Block | None
    process: Block | None
    end: Block | None

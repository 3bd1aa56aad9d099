"""Option groups: options declared once, in a dataclass, and taken by any command.

typer shares an option's flags and help through an `Annotated` alias, but not its
default (that stays `= value` at every use) and not a set of options (fastapi/typer#153).
A group is a frozen dataclass whose fields are `Annotated[type, typer.Option(...)] =
default`; `with_option_groups` puts those fields into the command's signature, which is
what typer reads, and calls the command with one instance of the dataclass instead:

    @with_option_groups(connection=ConnectionArgs)
    def copy(source: ..., *, connection: ConnectionArgs, ...) -> None:
        options = connection.run_options()

The group's options appear in `--help` where its parameter stands.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")


def with_option_groups(**groups: type[Any]) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Replace each parameter named in `groups` by its dataclass's fields, for typer."""

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        declared = inspect.signature(command, eval_str=True)
        unknown = set(groups) - set(declared.parameters)
        if unknown:
            raise TypeError(f"{command.__name__} has no parameter {', '.join(sorted(unknown))}")
        parameters: list[inspect.Parameter] = []
        for parameter in declared.parameters.values():
            group = groups.get(parameter.name)
            parameters.extend(_fields_of(group) if group else [parameter])
        names = [p.name for p in parameters]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise TypeError(f"{command.__name__}: an option group repeats {', '.join(repeated)}")

        @functools.wraps(command)
        def with_groups(**values: Any) -> R:
            for name, group in groups.items():
                fields = [field.name for field in dataclasses.fields(group)]
                values[name] = group(**{field: values.pop(field) for field in fields})
            return command(**values)

        # Keyword-only: typer passes values by name, and a group's fields may then follow
        # any parameter whatever its default.
        keyword_only = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in parameters]
        with_groups.__signature__ = declared.replace(parameters=keyword_only)  # type: ignore[attr-defined]
        with_groups.__annotations__ = {p.name: p.annotation for p in keyword_only}
        with_groups.__annotations__["return"] = declared.return_annotation
        return with_groups

    return decorate


def _fields_of(group: type[Any]) -> list[inspect.Parameter]:
    hints = typing.get_type_hints(group, include_extras=True)
    return [
        inspect.Parameter(
            field.name,
            inspect.Parameter.KEYWORD_ONLY,
            # No default: a required option.
            default=inspect.Parameter.empty
            if field.default is dataclasses.MISSING
            else field.default,
            annotation=hints[field.name],
        )
        for field in dataclasses.fields(group)
    ]

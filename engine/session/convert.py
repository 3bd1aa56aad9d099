"""Deserialized CLIXML (psrpcore types) to plain Python.

Primitives become Python values (str, int, float, Decimal, bool, bytes, datetime,
timedelta, UUID), lists and dictionaries become list and dict, and every other
object a PSObjectView that keeps its type names, adapted and extended properties
and ToString. Property lookups on a view ignore case, as in PowerShell (psrpcore's
own lookups do not). Secure strings stay opaque.
"""

from __future__ import annotations

import datetime
import decimal
import queue
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from psrpcore import types as ps

_MAX_DEPTH = 64  # CLIXML from PowerShell is depth-limited; this guards hostile input


class PSObjectView(Mapping[str, Any]):
    """A PowerShell object: type names, properties (case-insensitive) and ToString."""

    __slots__ = ("_index", "adapted", "extended", "to_string", "type_names", "value")

    def __init__(
        self,
        type_names: tuple[str, ...],
        adapted: dict[str, Any],
        extended: dict[str, Any],
        to_string: str | None,
        value: Any = None,
    ) -> None:
        self.type_names = type_names
        self.adapted = adapted
        self.extended = extended
        self.to_string = to_string
        self.value = value  # the wrapped primitive of an enum or a decorated value
        self._index: dict[str, str] | None = None

    @property
    def type_name(self) -> str | None:
        """The most derived type, without the 'Deserialized.' prefix."""
        return self.type_names[0].removeprefix("Deserialized.") if self.type_names else None

    @property
    def properties(self) -> dict[str, Any]:
        """All properties; an extended property wins over an adapted one of the same name."""
        return {**self.adapted, **self.extended}

    def _key(self, name: str) -> str:
        if self._index is None:
            self._index = {key.lower(): key for key in self.properties}
        try:
            return self._index[name.lower()]
        except KeyError:
            raise KeyError(name) from None

    def __getitem__(self, name: str) -> Any:
        key = self._key(name)
        return self.extended[key] if key in self.extended else self.adapted[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.properties)

    def __len__(self) -> int:
        return len(self.properties)

    def __str__(self) -> str:
        if self.to_string is not None:
            return self.to_string
        return "" if self.value is None else str(self.value)

    def __repr__(self) -> str:
        parts = [repr(self.type_name)]
        if self.value is not None:
            parts.append(f"value={self.value!r}")
        if self.to_string is not None and not self.properties:
            parts.append(f"to_string={self.to_string!r}")
        parts.extend(f"{k}={v!r}" for k, v in self.properties.items())
        return f"PSObjectView({', '.join(parts)})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PSObjectView):
            return NotImplemented
        return (self.type_names, self.properties, self.to_string, self.value) == (
            other.type_names,
            other.properties,
            other.to_string,
            other.value,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable mapping-like view


class SecureString:
    """A System.Security.SecureString from the host; the value never shows in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: ps.PSSecureString) -> None:
        self._value = value

    def decrypt(self) -> str:
        """The plain text (needs the session key of the runspace pool)."""
        return str(self._value.decrypt())

    def __repr__(self) -> str:
        return "SecureString(<hidden>)"

    __str__ = __repr__


def to_python(value: Any) -> Any:
    """Convert one deserialized value (and everything it contains)."""
    return _Converter().convert(value, 0)


class _Converter:
    """Keeps shared references shared (CLIXML RefId) and bounds the depth."""

    def __init__(self) -> None:
        self._seen: dict[int, Any] = {}

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or type(value) in (bool, int, float, str):
            return value
        if depth > _MAX_DEPTH:
            return str(value)
        seen = self._seen.get(id(value))
        if seen is not None:
            return seen
        converted = self._convert(value, depth + 1)
        self._seen[id(value)] = converted
        return converted

    def _convert(self, value: Any, depth: int) -> Any:
        if isinstance(value, ps.PSObject) and _is_enum(value):
            return self._view(value, depth, base=int(value))
        primitive = _primitive(value)
        if primitive is not _NOT_PRIMITIVE:
            return primitive
        if isinstance(value, dict):
            return {self.convert(k, depth): self.convert(v, depth) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.convert(item, depth) for item in value]
        if isinstance(value, queue.Queue):
            return [self.convert(item, depth) for item in list(value.queue)]
        if isinstance(value, ps.PSObject):
            return self._view(value, depth)
        return value

    def _view(self, value: ps.PSObject, depth: int, base: Any = None) -> PSObjectView:
        meta = value.PSObject
        view = PSObjectView(tuple(meta.type_names), {}, {}, meta.to_string, base)
        self._seen[id(value)] = view  # before the properties: a property may point back here
        for prop in meta.adapted_properties:
            view.adapted[prop.name] = self.convert(prop.get_value(value), depth)
        for prop in meta.extended_properties:
            view.extended[prop.name] = self.convert(prop.get_value(value), depth)
        return view


_NOT_PRIMITIVE = object()


def _primitive(value: Any) -> Any:
    if isinstance(value, ps.PSSecureString):
        return SecureString(value)
    if isinstance(value, ps.PSChar):
        return chr(int(value))
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, datetime.datetime):
        # A plain datetime: psrpcore's subclass keeps nanoseconds that datetime cannot hold.
        return datetime.datetime(
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
        )
    if isinstance(value, datetime.timedelta):
        return datetime.timedelta(value.days, value.seconds, value.microseconds)
    if isinstance(value, uuid.UUID):
        return uuid.UUID(int=value.int)
    if isinstance(value, ps.PSVersion):
        return str(value)
    return _NOT_PRIMITIVE


def _is_enum(value: ps.PSObject) -> bool:
    return isinstance(value, int) and any(
        name.removeprefix("Deserialized.") == "System.Enum" for name in value.PSObject.type_names
    )

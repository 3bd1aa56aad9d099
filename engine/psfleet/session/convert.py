"""The Python shapes of PowerShell objects: PSObjectView and SecureString.

A PSObjectView keeps an object's type names, adapted and extended properties and
ToString. Property lookups ignore case, as in PowerShell (psrpcore's do not).
A SecureString never shows its value.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from psrpcore import types as ps


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
    """A System.Security.SecureString, from the host or to send; the value never shows.

    `SecureString.from_plain(text)` makes one to pass as an argument, a parameter or
    input; the pool exchanges a session key with the host first (RSA, MS-PSRP), and the
    text goes encrypted with it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: ps.PSSecureString) -> None:
        self._value = value

    @classmethod
    def from_plain(cls, text: str) -> SecureString:
        return cls(ps.PSSecureString(text))

    def psrp_value(self) -> ps.PSSecureString:
        """The psrpcore value serialized on the wire."""
        return self._value

    def decrypt(self) -> str:
        """The plain text (needs the session key of the runspace pool)."""
        return str(self._value.decrypt())

    def __repr__(self) -> str:
        return "SecureString(<hidden>)"

    __str__ = __repr__

"""A fast CLIXML reader: PowerShell's serialized objects straight to plain Python.

psrpcore builds its own PSObject for every node (about 7 ms for one error record);
this walks the parsed tree once and produces Python values and PSObjectViews, which
is what psfleet hands out anyway. Writing CLIXML stays with psrpcore.

Primitives map to Python (str, int, bool, float, Decimal, bytes, datetime,
timedelta, UUID); lists and dictionaries to list and dict; enums and every other
object to a PSObjectView whose type names carry PowerShell's "Deserialized." prefix.
A primitive decorated with note properties (the lines of Get-Content carry PSPath)
stays the primitive.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import re
import string
import uuid
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from psrpcore.types import PSSecureString

from psfleet.errors import ProtocolError
from psfleet.session.convert import PSObjectView, SecureString

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_DATETIME_FRACTION = re.compile(r"\.(\d+)")
_FLOATS = {"INF": float("inf"), "-INF": float("-inf"), "Infinity": float("inf")}
_COLLECTIONS = frozenset({"LST", "IE", "STK", "QUE"})
_MAX_DEPTH = 64
# A fetched chunk is one <S> of a few hundred KB of base64: no markup, entity or escape
# can be in it, so it is read without the XML parser (1.6 ms/MB of client CPU).
_BASE64 = (string.ascii_letters + string.digits + "+/=").encode("ascii")
_PLAIN_OPEN, _PLAIN_CLOSE = b"<S>", b"</S>"


def unescape(text: str) -> str:
    """CLIXML strings escape control characters and surrogate halves as _xHHHH_."""
    # One-character search first: `"_x" in` scans at ~1 ms/MB, `"_" in` 100x faster, and
    # a fetched chunk (base64, no "_") is hundreds of KB.
    if "_" not in text or "_x" not in text:
        return text
    units = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), text)
    # Escaped surrogate pairs come out as two lone surrogates: join them.
    return units.encode("utf-16", "surrogatepass").decode("utf-16")


def _plain_base64_string(data: bytes) -> str | None:
    """The string of `<S>` and base64 characters alone, as the XML path reads it; else None."""
    if not (data.startswith(_PLAIN_OPEN) and data.endswith(_PLAIN_CLOSE)):
        return None
    text = data[len(_PLAIN_OPEN) : -len(_PLAIN_CLOSE)]
    if text.translate(None, _BASE64):
        return None
    return text.decode("ascii")


def _datetime(text: str) -> datetime.datetime:
    # .NET writes 7 fractional digits (100 ns); Python keeps microseconds.
    trimmed = _DATETIME_FRACTION.sub(lambda m: "." + m[1][:6].ljust(6, "0"), text, count=1)
    return datetime.datetime.fromisoformat(trimmed)


def _timedelta(text: str) -> datetime.timedelta:
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    delta = datetime.timedelta(
        days=int(match["d"] or 0),
        hours=int(match["h"] or 0),
        minutes=int(match["m"] or 0),
        seconds=float(match["s"] or 0),
    )
    return -delta if match["sign"] else delta


def _float(text: str) -> float:
    return _FLOATS.get(text) or float(text)


_PRIMITIVES: dict[str, Callable[[str], Any]] = {
    "S": unescape,
    "I32": int,
    "I64": int,
    "I16": int,
    "By": int,
    "SB": int,
    "U16": int,
    "U32": int,
    "U64": int,
    "B": lambda t: t.strip().lower() == "true",
    "Db": _float,
    "Sg": _float,
    "D": decimal.Decimal,
    "DT": _datetime,
    "TS": _timedelta,
    "G": uuid.UUID,
    "C": lambda t: chr(int(t)),
    "BA": base64.b64decode,
    "URI": unescape,
    "Version": str,
    "XD": unescape,
    "SBK": unescape,
}


class Reader:
    """Reads the CLIXML of one PSRP message; RefIds are local to that message."""

    def __init__(self, cipher: Any = None) -> None:
        self._cipher = cipher  # the pool's session key holder, for SecureStrings
        self._refs: dict[str, Any] = {}
        self._type_names: dict[str, tuple[str, ...]] = {}

    def read(self, data: bytes) -> Any:
        plain = _plain_base64_string(data)
        if plain is not None:
            return plain
        try:
            return self.value(ET.fromstring(data), 0)
        except (ET.ParseError, ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise ProtocolError(f"malformed CLIXML: {type(exc).__name__}: {exc}") from None
        except decimal.InvalidOperation:
            raise ProtocolError("malformed CLIXML: not a decimal") from None

    def value(self, element: ET.Element, depth: int) -> Any:
        tag = element.tag
        parse = _PRIMITIVES.get(tag)
        if parse is not None:
            return parse(element.text or "")
        if tag == "Nil":
            return None
        if tag == "Obj":
            if depth > _MAX_DEPTH:
                raise ValueError("objects nested too deep")
            return self._object(element, depth + 1)
        if tag == "Ref":
            return self._refs[element.attrib["RefId"]]
        if tag == "SS":
            return SecureString(PSSecureString(element.text or "", self._cipher))
        if tag == "ToString":
            return unescape(element.text or "")
        raise ValueError(f"unknown CLIXML element <{tag}>")

    def _object(self, element: ET.Element, depth: int) -> Any:
        type_names: tuple[str, ...] = ()
        to_string: str | None = None
        base: Any = None
        has_base = False
        adapted: dict[str, Any] = {}
        extended: dict[str, Any] = {}
        view: PSObjectView | None = None
        ref_id = element.get("RefId")
        for child in element:
            tag = child.tag
            if tag == "TN":
                type_names = tuple(_deserialized(t.text or "") for t in child)
                self._type_names[child.attrib.get("RefId", "")] = type_names
            elif tag == "TNRef":
                type_names = self._type_names[child.attrib["RefId"]]
            elif tag == "ToString":
                to_string = unescape(child.text or "")
            elif tag in ("MS", "Props"):
                if view is None:
                    # Registered before the members are read: a member may refer back to it.
                    view = PSObjectView(type_names, adapted, extended, to_string)
                    if ref_id is not None:
                        self._refs[ref_id] = view
                self._members(child, extended if tag == "MS" else adapted, depth)
            elif tag in _COLLECTIONS:
                base, has_base = [self.value(item, depth) for item in child], True
            elif tag == "DCT":
                base, has_base = self._dict(child, depth), True
            else:
                base, has_base = self.value(child, depth), True
        if has_base and not _is_enum(type_names):
            result = base  # a list, dict or primitive, with any note properties dropped
        elif view is None:
            result = PSObjectView(type_names, adapted, extended, to_string, base)
        else:
            view.type_names, view.to_string, view.value = type_names, to_string, base
            result = view
        if ref_id is not None:
            self._refs[ref_id] = result
        return result

    def _members(self, element: ET.Element, into: dict[str, Any], depth: int) -> None:
        for member in element:
            into[unescape(member.attrib.get("N", ""))] = self.value(member, depth)

    def _dict(self, element: ET.Element, depth: int) -> dict[Any, Any]:
        entries: dict[Any, Any] = {}
        for entry in element:
            key: Any = None
            value: Any = None
            for part in entry:
                if part.get("N") == "Key":
                    key = self.value(part, depth)
                else:
                    value = self.value(part, depth)
            entries[_hashable(key)] = value
        return entries


def _deserialized(type_name: str) -> str:
    """A property bag, not the live .NET object: PowerShell marks its type names so."""
    return type_name if type_name.startswith("Deserialized.") else "Deserialized." + type_name


def _is_enum(type_names: tuple[str, ...]) -> bool:
    return any(name.removeprefix("Deserialized.") == "System.Enum" for name in type_names)


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def read(data: bytes, cipher: Any = None) -> Any:
    """Decode the CLIXML of one message."""
    return Reader(cipher).read(data)

"""PowerShell value semantics over Python and psrpcore values: members, truth,
string conversion and comparison (case-insensitive, right operand converted to
the left operand's type)."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from psrpcore.types import PSEnumBase, PSObject, PSSecureString, PSVersion

_MISSING = object()


def _is(value: Any, types: type | tuple[type, ...]) -> bool:
    """isinstance() by type(): a failing isinstance() on a PSObject falls back to
    obj.__class__ through PSObject's slow __getattribute__."""
    return issubclass(type(value), types)


def is_collection(value: Any) -> bool:
    return _is(value, (list, tuple))


def enumerate_value(value: Any) -> Iterator[Any]:
    """What a value writes to the pipeline: collections unroll, one level."""
    if is_collection(value):
        yield from value
    else:
        yield value


def get_member(value: Any, name: str) -> Any:
    """$value.Name, case-insensitive; collections enumerate their members."""
    lower = name.lower()
    found = _own_member(value, lower)
    if found is not _MISSING:
        return found
    if is_collection(value):
        values = [get_member(v, name) for v in value]
        values = [v for v in values if v is not None]
        return values[0] if len(values) == 1 else values
    return None


def ps_meta(value: PSObject) -> Any:
    """value.PSObject without PSObject.__getattribute__, which rebuilds a property
    table on every attribute access and dominates the cost of a pipeline."""
    return object.__getattribute__(value, "PSObject")


def _own_member(value: Any, lower: str) -> Any:
    kind = type(value)  # see _is()
    if value is None:
        return _MISSING
    if issubclass(kind, PSVersion):
        return (
            getattr(value, lower) if lower in ("major", "minor", "build", "revision") else _MISSING
        )
    if issubclass(kind, PSObject) and not issubclass(kind, PSEnumBase):
        meta = ps_meta(value)
        for prop in (*meta.extended_properties, *meta.adapted_properties):
            if prop.name.lower() == lower:
                return prop.get_value(value)
    if issubclass(kind, dict):
        for key, item in value.items():
            if str(key).lower() == lower:
                return item
        if lower in ("count", "keys", "values"):
            return len(value) if lower == "count" else list(getattr(value, lower)())
        return None
    if issubclass(kind, (list, tuple)):
        return len(value) if lower in ("count", "length") else _MISSING
    if issubclass(kind, str) and lower == "length":
        return len(value)
    if issubclass(kind, bytes | bytearray) and lower in ("length", "count"):
        return len(value)
    if issubclass(kind, PSEnumBase) and lower == "value__":
        return int(value)
    if issubclass(kind, dt.datetime):
        return _datetime_member(value, lower)
    if lower == "count":
        return 1
    return _MISSING


def _datetime_member(value: dt.datetime, lower: str) -> Any:
    simple = {"year", "month", "day", "hour", "minute", "second"}
    if lower in simple:
        return getattr(value, lower)
    if lower == "dayofweek":
        return value.strftime("%A")
    if lower == "date":
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return _MISSING


def call_method(value: Any, name: str, args: list[Any]) -> Any:
    """The few .NET methods scripts commonly call on strings and objects."""
    lower = name.lower()
    if lower == "tostring":
        return to_string(value)
    if _is(value, str):
        text_methods: dict[str, Callable[[], Any]] = {
            "toupper": value.upper,
            "tolower": value.lower,
            "trim": value.strip,
            "contains": lambda: to_string(args[0]) in value,
            "startswith": lambda: value.lower().startswith(to_string(args[0]).lower()),
            "endswith": lambda: value.lower().endswith(to_string(args[0]).lower()),
            "replace": lambda: value.replace(to_string(args[0]), to_string(args[1])),
            "split": lambda: value.split(to_string(args[0])) if args else value.split(),
            "substring": lambda: value[
                int(args[0]) : (int(args[0]) + int(args[1])) if len(args) > 1 else None
            ],
        }
        if lower in text_methods:
            return text_methods[lower]()
    if _is(value, dt.datetime) and lower.startswith("add") and args:
        unit = {
            "adddays": "days",
            "addhours": "hours",
            "addminutes": "minutes",
            "addseconds": "seconds",
        }
        if lower in unit:
            return value + dt.timedelta(**{unit[lower]: float(args[0])})
    if _is(value, dict) and lower == "containskey":
        return any(str(k).lower() == to_string(args[0]).lower() for k in value)
    raise LookupError(name)


def to_string(value: Any) -> str:
    """[string]$value, PowerShell style (invariant culture)."""
    if value is None:
        return ""
    if _is(value, bool):
        return "True" if value else "False"
    if _is(value, PSEnumBase):
        return str(value.name)
    if _is(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if _is(value, dt.datetime):
        return dt.datetime.strftime(value, "%m/%d/%Y %H:%M:%S")
    if is_collection(value):
        return " ".join(to_string(v) for v in value)
    if _is(value, dict):
        return "System.Collections.Hashtable"
    if _is(value, PSSecureString):
        return "System.Security.SecureString"  # str() of a received one is its cipher text
    return str(value)


def clr_name(value: Any) -> str:
    """The .NET type name of a plain value."""
    return {
        str: "System.String",
        int: "System.Int32",
        float: "System.Double",
        bool: "System.Boolean",
    }.get(type(value), "System.Object")


def to_bool(value: Any) -> bool:
    if is_collection(value):
        return len(value) > 1 or (len(value) == 1 and to_bool(value[0]))
    if _is(value, PSEnumBase):
        return True
    return bool(value)


def to_number(value: Any) -> int | float:
    if _is(value, bool):
        return int(value)
    if _is(value, (int, float)):
        return cast(int | float, value)
    text = to_string(value).strip()
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise TypeError(f'Cannot convert value "{text}" to type "System.Int32".') from None


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring right to left's type, as PowerShell's comparison operators do."""
    if _is(left, PSEnumBase):
        if _is(right, (int, float)) and not _is(right, bool):
            return int(left), right
        return str(left.name).lower(), to_string(right).lower()
    if _is(left, (int, float)) and not _is(left, bool):
        try:
            return left, to_number(right)
        except TypeError:
            return to_string(left).lower(), to_string(right).lower()
    if _is(left, bool):
        return left, to_bool(right)
    if _is(left, PSVersion) and not _is(right, PSVersion):
        return left, PSVersion(to_string(right))
    if _is(left, dt.datetime) and _is(right, dt.datetime):
        return left, right
    return to_string(left).lower(), to_string(right).lower()


def equals(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    a, b = _coerce(left, right)
    return bool(a == b)


def order_key(value: Any) -> tuple[int, Any]:
    """Sort-Object's key: nulls first, numbers by value, text case-insensitive."""
    if value is None:
        return (0, 0)
    if _is(value, PSEnumBase):
        return (1, int(value))
    if _is(value, (int, float)):
        return (1, value)
    if _is(value, (dt.datetime, PSVersion)):
        return (2, value)
    return (3, to_string(value).lower())


def compare(op: str, left: Any, right: Any) -> Any:
    """A comparison operator; with a collection on the left it filters (PowerShell semantics)."""
    if is_collection(left) and op not in ("-contains", "-notcontains", "-is", "-isnot"):
        return [v for v in left if to_bool(compare(op, v, right))]
    return _compare_scalar(op, left, right)


def _compare_scalar(op: str, left: Any, right: Any) -> Any:
    case = op.startswith("-c") and op not in ("-contains",)
    name = ("-" + op[2:]) if case else op
    if case and _is(left, str):
        relations = {"-eq": left == to_string(right), "-ne": left != to_string(right)}
        if name in relations:
            return relations[name]
    if name == "-eq":
        return equals(left, right)
    if name == "-ne":
        return not equals(left, right)
    if name in ("-gt", "-lt", "-ge", "-le"):
        if left is None or right is None:
            return False
        a, b = _coerce(left, right)
        return {"-gt": a > b, "-lt": a < b, "-ge": a >= b, "-le": a <= b}[name]
    if name in ("-like", "-notlike"):
        hit = fnmatch.fnmatchcase(to_string(left).lower(), to_string(right).lower())
        return hit if name == "-like" else not hit
    if name in ("-match", "-notmatch"):
        found = (
            re.search(to_string(right), to_string(left), 0 if case else re.IGNORECASE) is not None
        )
        return found if name == "-match" else not found
    if name in ("-contains", "-notcontains"):
        hit = any(equals(v, right) for v in enumerate_value(left))
        return hit if name == "-contains" else not hit
    if name in ("-in", "-notin"):
        hit = any(equals(v, left) for v in enumerate_value(right))
        return hit if name == "-in" else not hit
    if name == "-replace":
        pattern, replacement = ([*list(right), ""])[:2] if is_collection(right) else (right, "")
        return re.sub(
            to_string(pattern),
            to_string(replacement).replace("$", "\\"),
            to_string(left),
            flags=re.IGNORECASE,
        )
    raise LookupError(op)

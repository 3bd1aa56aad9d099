"""JSON forms of run events and of every value a record can carry.

`to_jsonable` is total: whatever a host sends, it returns something json.dumps accepts and
never raises, so one odd object cannot take down a run. Conventions (docs/output.md):
datetime and date -> ISO 8601 text; timedelta -> float seconds; bytes -> base64 text;
Decimal -> JSON number (as ConvertTo-Json); UUID -> text; enums -> their value; NaN and
infinities -> "NaN", "Infinity", "-Infinity" (as .NET prints them, JSON has no such
numbers); SecureString -> "<SecureString>", never its value; PowerShell objects ->
{"type_names", "to_string", "properties"} plus "value" for enums and decorated primitives.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

from psfleet.events import (
    Event,
    HostDone,
    HostRetry,
    HostStarted,
    RecordEvent,
    RunSummary,
    TransferProgress,
)
from psfleet.session.convert import PSObjectView, SecureString
from psfleet.session.records import (
    ErrorRecord,
    InformationalRecord,
    InformationRecord,
    ProgressRecord,
)

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

MAX_DEPTH = 16
"""Nesting kept before a value is replaced by its string form (ConvertTo-Json -Depth)."""

SECURE_STRING = "<SecureString>"
CYCLE = "<cycle>"

_Handler = Callable[[Any, int, set[int]], JsonValue]
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def dumps(value: JsonValue) -> str:
    """One line of JSON; ASCII-only so lone surrogates from UTF-16 text stay valid JSON."""
    return _ENCODER.encode(value)


def to_jsonable(value: Any, max_depth: int = MAX_DEPTH) -> JsonValue:
    """The JSON form of one deserialized value (and everything it contains)."""
    return _encode(value, max_depth, set())


def event_to_json(event: Event) -> dict[str, JsonValue]:
    """One event as a JSON Lines object; its `event` field names the kind."""
    if isinstance(event, RecordEvent):
        record: dict[str, JsonValue] = {
            "event": "record",
            "host": event.host,
            "stream": str(event.stream),
            "command": event.command_index,
            "data": to_jsonable(event.data),
        }
        return _with_worker(record, event.worker)
    if isinstance(event, HostDone):
        return _with_worker({"event": "host_done", **host_result(event)}, event.worker)
    if isinstance(event, HostStarted):
        return {"event": "host_started", "host": event.host, "attempt": event.attempt}
    if isinstance(event, HostRetry):
        return {
            "event": "host_retry",
            "host": event.host,
            "attempt": event.attempt,
            "error_type": event.error_type,
            "message": event.message,
            "delay_s": event.delay_s,
        }
    if isinstance(event, RunSummary):
        return summary_to_json(event)
    if isinstance(event, TransferProgress):
        return {"event": "progress", "host": event.host, "bytes": event.done, "total": event.total}
    raise TypeError(f"not a psfleet event: {type(event).__name__}")


def _with_worker(shaped: dict[str, JsonValue], worker: str | None) -> dict[str, JsonValue]:
    """A distributed run names the host's worker; a local run's lines stay as they were."""
    if worker is not None:
        shaped["worker"] = worker
    return shaped


def summary_to_json(summary: RunSummary) -> dict[str, JsonValue]:
    """The run summary; a field added to RunSummary appears here by its name, as JSON."""
    shaped: dict[str, JsonValue] = {
        "event": "summary",
        "counts": {str(status): count for status, count in summary.counts.items()},
        "wall_s": summary.wall_s,
        "interrupted": summary.interrupted,
        "slowest": [{"host": host, "duration_s": secs} for host, secs in summary.slowest],
    }
    for item in dataclasses.fields(summary):
        if item.name not in shaped:
            shaped[item.name] = to_jsonable(getattr(summary, item.name))
    return shaped


def host_result(done: HostDone) -> dict[str, JsonValue]:
    """A host's final status; error fields and remedy are null when there are none."""
    return {
        "host": done.host,
        "status": str(done.status),
        "duration_s": done.duration_s,
        "attempts": done.attempts,
        "error_type": done.error_type,
        "error_message": done.error_message,
        "remedy": done.remedy,
        # copy and fetch only: a run's results keep their shape
        **{
            name: value
            for name, value in (
                ("bytes", done.bytes),
                ("sha256", done.sha256),
                ("changed", done.changed),
            )
            if value is not None
        },
    }


def _encode(value: Any, depth: int, path: set[int]) -> JsonValue:
    kind = type(value)
    # The common cases first and without a lookup: this runs for every record of every host.
    if kind is str or kind is int or kind is bool or value is None:
        return value  # type: ignore[no-any-return]
    if kind is float:
        return value if math.isfinite(value) else _non_finite(value)
    handler = _HANDLERS.get(kind) or _handler_for(kind)
    try:
        return handler(value, depth, path)
    except Exception as exc:  # hostile or broken objects (a __str__ that raises, ...)
        return f"<unserializable {kind.__name__}: {type(exc).__name__}>"


def _handler_for(kind: type) -> _Handler:
    """The handler of the nearest base class, cached per type."""
    handler = next((_BASES[base] for base in kind.__mro__ if base in _BASES), _fallback)
    _HANDLERS[kind] = handler
    return handler


def _nested(encode: _Handler) -> _Handler:
    """Guard a container: depth limit and cycle detection (a list that holds itself)."""

    def guarded(value: Any, depth: int, path: set[int]) -> JsonValue:
        if depth <= 0:
            return _flat(value)
        key = id(value)
        if key in path:
            return CYCLE
        path.add(key)
        try:
            return encode(value, depth - 1, path)
        finally:
            path.discard(key)

    return guarded


def _flat(value: Any) -> str:
    if isinstance(value, PSObjectView):
        return str(value)
    return f"<{type(value).__name__} deeper than the depth limit>"


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _key(key: Any) -> str:
    return key if type(key) is str else str(_encode(key, 1, set()))


def _list(value: Any, depth: int, path: set[int]) -> JsonValue:
    return [_encode(item, depth, path) for item in value]


def _dict(value: Mapping[Any, Any], depth: int, path: set[int]) -> JsonValue:
    return {_key(k): _encode(v, depth, path) for k, v in value.items()}


def _view(view: PSObjectView, depth: int, path: set[int]) -> JsonValue:
    encoded: dict[str, JsonValue] = {
        "type_names": list(view.type_names),
        "to_string": view.to_string,
        "properties": _dict(view.properties, depth, path),
    }
    if view.value is not None:
        encoded["value"] = _encode(view.value, depth, path)
    return encoded


def _error_record(record: ErrorRecord, depth: int, path: set[int]) -> JsonValue:
    return {
        "message": record.message,
        "category": record.category,
        "category_info": record.category_info,
        "fully_qualified_error_id": record.fully_qualified_error_id,
        "exception_type": record.exception_type,
        "target_name": record.target_name,
        "target": _encode(record.target_object, depth, path),
        "script_stack_trace": record.script_stack_trace,
        "position": record.position_message,
        "script_name": record.script_name,
        "line_number": record.line_number,
        "offset_in_line": record.offset_in_line,
        "command": record.command,
        "recommended_action": record.recommended_action,
    }


def _informational(record: InformationalRecord, depth: int, path: set[int]) -> JsonValue:
    return {"message": record.message, "command": record.command}


def _information(record: InformationRecord, depth: int, path: set[int]) -> JsonValue:
    return {
        "message_data": _encode(record.message_data, depth, path),
        "source": record.source,
        "tags": list(record.tags),
        "time_generated": _encode(record.time_generated, depth, path),
        "user": record.user,
        "computer": record.computer,
    }


def _progress(record: ProgressRecord, depth: int, path: set[int]) -> JsonValue:
    return {
        "activity": record.activity,
        "status": record.status,
        "activity_id": record.activity_id,
        "parent_activity_id": record.parent_activity_id,
        "current_operation": record.current_operation,
        "percent_complete": record.percent_complete,
        "seconds_remaining": record.seconds_remaining,
        "completed": record.completed,
    }


def _dataclass(value: Any, depth: int, path: set[int]) -> JsonValue:
    # Hidden fields (repr=False, as Credential.password) are secrets by convention: skip them.
    return {
        f.name: _encode(getattr(value, f.name), depth, path)
        for f in dataclasses.fields(value)
        if f.repr
    }


def _fallback(value: Any, depth: int, path: set[int]) -> JsonValue:
    if isinstance(value, Mapping):
        return _GUARDED_DICT(value, depth, path)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _GUARDED_DATACLASS(value, depth, path)
    return str(value)


def _float(value: float, depth: int, path: set[int]) -> JsonValue:
    number = float(value)
    return number if math.isfinite(number) else _non_finite(number)


def _enum(value: enum.Enum, depth: int, path: set[int]) -> JsonValue:
    return _encode(value.value, depth, path)


_BASES: dict[type, _Handler] = {
    # Looked up along each type's MRO: an IntEnum meets int first, which gives its value too.
    enum.Enum: _enum,
    bool: lambda v, d, p: bool(v),
    int: lambda v, d, p: int(v),
    str: lambda v, d, p: str.__str__(v),
    float: _float,
    decimal.Decimal: lambda v, d, p: _float(float(v), d, p),
    bytes: lambda v, d, p: base64.b64encode(v).decode("ascii"),
    bytearray: lambda v, d, p: base64.b64encode(v).decode("ascii"),
    datetime.datetime: lambda v, d, p: v.isoformat(),
    datetime.date: lambda v, d, p: v.isoformat(),
    datetime.time: lambda v, d, p: v.isoformat(),
    datetime.timedelta: lambda v, d, p: v.total_seconds(),
    uuid.UUID: lambda v, d, p: str(v),
    SecureString: lambda v, d, p: SECURE_STRING,
    PSObjectView: _nested(_view),
    ErrorRecord: _nested(_error_record),
    InformationalRecord: _informational,
    InformationRecord: _nested(_information),
    ProgressRecord: _progress,
    list: _nested(_list),
    tuple: _nested(_list),
    set: _nested(_list),
    frozenset: _nested(_list),
    dict: _nested(_dict),
}
_HANDLERS: dict[type, _Handler] = {}
_GUARDED_DICT = _nested(_dict)
_GUARDED_DATACLASS = _nested(_dataclass)

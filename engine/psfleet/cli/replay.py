"""A recorded run as events again, for the console sink: `psfleet show` prints a run as it
printed when it ran.

Records are stored as their JSON (`serialize.to_jsonable`); the console renders live
objects, so each record's JSON is turned back into the text the console showed for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

from psfleet.events import Event, HostDone, HostStatus, RecordEvent, RunSummary, Stream
from psfleet.serialize import JsonValue
from psfleet.store import StoredHost, StoredRecord, StoredRun

_STATUSES = {status.value: status for status in HostStatus}


def replay(
    run: StoredRun, hosts: Sequence[StoredHost], records: Sequence[StoredRecord]
) -> Iterator[Event]:
    """Records in their order; a host's end after its last record; the summary last."""
    last_record = {record.host: index for index, record in enumerate(records)}
    finished = [host for host in hosts if host.host not in last_record]
    by_name = {host.host: host for host in hosts}
    yield from _done(finished)
    for index, record in enumerate(records):
        event = _record(record)
        if event is not None:
            yield event
        if last_record[record.host] == index and record.host in by_name:
            yield from _done([by_name[record.host]])
    yield summary_of(run, hosts)


def _done(hosts: Sequence[StoredHost]) -> Iterator[HostDone]:
    for host in hosts:
        status = _STATUSES.get(host.status)
        if status is not None:  # a host that never finished has no end to show
            yield HostDone(
                host.host,
                status,
                host.duration_s or 0.0,
                host.attempts,
                host.error_type,
                host.error_message,
                host.remedy,
                bytes=host.bytes,
                sha256=host.sha256,
                changed=host.changed,
            )


def summary_of(run: StoredRun, hosts: Sequence[StoredHost]) -> RunSummary:
    """The run's summary as recorded; for a run that never wrote one, what is known."""
    recorded = run.summary
    if recorded is None:
        tally = {status: 0 for status in HostStatus}
        for host in hosts:
            if host.status in _STATUSES:
                tally[_STATUSES[host.status]] += 1
        end = run.ended_at if run.ended_at is not None else time.time()
        return RunSummary(counts=tally, wall_s=end - run.started_at, interrupted=True)
    slowest = [item for item in _list(recorded.get("slowest")) if isinstance(item, dict)]
    return RunSummary(
        counts={
            _STATUSES[name]: int(_number(count))
            for name, count in _dict(recorded.get("counts")).items()
            if name in _STATUSES
        },
        wall_s=_number(recorded.get("wall_s")),
        slowest=tuple((str(i.get("host")), _number(i.get("duration_s"))) for i in slowest),
        interrupted=bool(recorded.get("interrupted")),
        shells_possibly_open=tuple(str(h) for h in _list(recorded.get("shells_possibly_open"))),
        spared_by_lockout_guard=int(_number(recorded.get("spared_by_lockout_guard"))),
    )


def _number(value: JsonValue) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _dict(value: JsonValue) -> dict[str, JsonValue]:
    return value if isinstance(value, dict) else {}


def _record(record: StoredRecord) -> RecordEvent | None:
    try:
        stream = Stream(record.stream)
    except ValueError:
        return None
    if stream is Stream.PROGRESS:
        return None
    data: JsonValue
    if stream is Stream.ERROR:
        data = error_text(record.data)
    elif stream is Stream.INFORMATION:
        data = _field(record.data, "message_data")
        data = data if data is None else describe(data)
    elif stream is Stream.OUTPUT:
        data = None if record.data is None else describe(record.data)
    else:
        data = _field(record.data, "message")
    return RecordEvent(record.host, stream, data, record.command)


def describe(value: JsonValue) -> str:
    """The console's compact form: ToString, or Name=Value pairs of an object's properties."""
    if isinstance(value, dict) and "type_names" in value:
        properties = value.get("properties")
        if isinstance(properties, dict) and properties:
            return "; ".join(f"{name}={_short(item)}" for name, item in properties.items())
        return str(value.get("to_string") or "")
    return _short(value)


def _short(value: JsonValue) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and "type_names" in value:
        return str(value.get("to_string") or "")
    return str(value)


def error_text(data: JsonValue) -> str:
    """An error record's lines, as the console printed them."""
    if not isinstance(data, dict) or "category_info" not in data:
        return describe(data)
    lines = [str(data.get("message") or "")]
    if data.get("position"):
        lines.append(str(data["position"]))
    lines.append(f"    + CategoryInfo          : {data.get('category_info')}")
    if data.get("fully_qualified_error_id"):
        lines.append(f"    + FullyQualifiedErrorId : {data['fully_qualified_error_id']}")
    return "\n".join(lines)


def _field(data: JsonValue, name: str) -> JsonValue:
    return data.get(name) if isinstance(data, dict) else data

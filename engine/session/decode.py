"""psrpcore pipeline events to psfleet records, one per stream.

Record objects from the wire may lack any property (older hosts, records written
without invocation info), so every lookup here tolerates absence, and ignores case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psrpcore
from psrpcore import types as ps

from psfleet.events import RecordEvent, Stream
from psfleet.session.convert import to_python
from psfleet.session.records import (
    ErrorRecord,
    InformationalRecord,
    InformationRecord,
    PipelineState,
    ProgressRecord,
)

FINAL_STATES = {
    ps.PSInvocationState.Completed: PipelineState.COMPLETED,
    ps.PSInvocationState.Failed: PipelineState.FAILED,
    ps.PSInvocationState.Stopped: PipelineState.STOPPED,
}

_INFORMATIONAL_STREAMS: dict[type[psrpcore.PSRPEvent[Any, Any]], Stream] = {
    psrpcore.WarningRecordEvent: Stream.WARNING,
    psrpcore.VerboseRecordEvent: Stream.VERBOSE,
    psrpcore.DebugRecordEvent: Stream.DEBUG,
}


def record_of(event: psrpcore.PSRPEvent[Any, Any], host: str) -> RecordEvent | None:
    """The record a pipeline event carries, or None for control events."""
    if isinstance(event, psrpcore.PipelineOutputEvent):
        return RecordEvent(host, Stream.OUTPUT, to_python(event.data))
    if isinstance(event, psrpcore.ErrorRecordEvent):
        return RecordEvent(host, Stream.ERROR, error_record(event.record, host))
    stream = _INFORMATIONAL_STREAMS.get(type(event))
    if stream is not None:
        return RecordEvent(host, stream, _informational(getattr(event, "record", None), host))
    if isinstance(event, psrpcore.InformationRecordEvent):
        return RecordEvent(host, Stream.INFORMATION, _information(event.record, host))
    if isinstance(event, psrpcore.ProgressRecordEvent):
        return RecordEvent(host, Stream.PROGRESS, _progress(event.record, host))
    return None


def prop(obj: Any, name: str) -> Any:
    """A property of a deserialized object by case-insensitive name, or None."""
    if not isinstance(obj, ps.PSObject):
        return None
    meta = obj.PSObject
    wanted = name.lower()
    for props in (meta.extended_properties, meta.adapted_properties):
        for candidate in props:
            if candidate.name.lower() == wanted:
                return candidate.get_value(obj)
    return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any, default: int) -> int:
    number = _opt_int(value)
    return default if number is None else number


def error_record(record: Any, host: str) -> ErrorRecord:
    exception = prop(record, "Exception")
    details = prop(record, "ErrorDetails")
    category_info = prop(record, "CategoryInfo")
    invocation = prop(record, "InvocationInfo") or prop(exception, "SerializedRemoteInvocationInfo")
    category = prop(category_info, "Category")
    message = _text(prop(details, "Message")) or _text(prop(exception, "Message")) or ""
    exception_type = (
        exception.PSObject.type_names[0] if isinstance(exception, ps.PSObject) else None
    )
    return ErrorRecord(
        host=host,
        message=message,
        category=getattr(category, "name", None) or _text(category) or "NotSpecified",
        category_info=_category_line(category_info),
        fully_qualified_error_id=_text(prop(record, "FullyQualifiedErrorId")),
        target_name=_text(prop(category_info, "TargetName")) or None,
        target_object=to_python(prop(record, "TargetObject")),
        exception_type=exception_type.removeprefix("Deserialized.") if exception_type else None,
        script_stack_trace=_text(prop(record, "ScriptStackTrace")),
        position_message=_text(prop(invocation, "PositionMessage")) or None,
        script_name=_text(prop(invocation, "ScriptName")) or None,
        line_number=_opt_int(prop(invocation, "ScriptLineNumber")),
        offset_in_line=_opt_int(prop(invocation, "OffsetInLine")),
        command=_command_name(prop(invocation, "MyCommand")),
        recommended_action=_text(prop(details, "RecommendedAction")) or None,
    )


def _category_line(category_info: Any) -> str:
    if isinstance(category_info, ps.PSObject) and category_info.PSObject.to_string:
        return category_info.PSObject.to_string
    return str(category_info) if category_info is not None else ""


def _command_name(command: Any) -> str | None:
    # Scripts have a CommandInfo with an empty Name: report no command rather than its repr.
    return _text(prop(command, "Name")) or None


def _informational(record: Any, host: str) -> InformationalRecord:
    message = prop(record, "Message")
    if message is None:
        message = prop(record, "InformationalRecord_Message")
    invocation = prop(record, "InvocationInfo")
    return InformationalRecord(
        host=host,
        message=_text(message) or "",
        command=_command_name(prop(invocation, "MyCommand")),
    )


def _information(record: Any, host: str) -> InformationRecord:
    tags = prop(record, "Tags") or []
    generated = prop(record, "TimeGenerated")
    return InformationRecord(
        host=host,
        message_data=to_python(prop(record, "MessageData")),
        source=_text(prop(record, "Source")),
        tags=tuple(str(tag) for tag in tags),
        time_generated=to_python(generated) if isinstance(generated, datetime) else None,
        user=_text(prop(record, "User")),
        computer=_text(prop(record, "Computer")),
    )


def _progress(record: Any, host: str) -> ProgressRecord:
    record_type = prop(record, "RecordType")
    return ProgressRecord(
        host=host,
        activity=_text(prop(record, "Activity")) or "",
        status=_text(prop(record, "StatusDescription")) or "",
        activity_id=_int(prop(record, "ActivityId"), 0),
        parent_activity_id=_int(prop(record, "ParentActivityId"), -1),
        current_operation=_text(prop(record, "CurrentOperation")),
        percent_complete=_int(prop(record, "PercentComplete"), -1),
        seconds_remaining=_int(prop(record, "SecondsRemaining"), -1),
        completed=getattr(record_type, "name", "") == "Completed",
    )

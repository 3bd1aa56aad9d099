"""PSRP pipeline messages to psfleet records, from their wire form (MS-PSRP 2.2.2).

Records come flattened: an error record carries ErrorCategory_*, ErrorDetails_*
and InvocationInfo_* members. Any member may be missing (older hosts, records
written without invocation info), so every lookup tolerates absence and ignores case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psrpcore.types import ErrorCategory, PSInvocationState

from psfleet.events import RecordEvent, Stream
from psfleet.session import clixml
from psfleet.session.convert import PSObjectView
from psfleet.session.psrp import Message, MessageType
from psfleet.session.records import (
    ErrorRecord,
    InformationalRecord,
    InformationRecord,
    PipelineState,
    ProgressRecord,
)

FINAL_STATES = {
    int(PSInvocationState.Completed): PipelineState.COMPLETED,
    int(PSInvocationState.Failed): PipelineState.FAILED,
    int(PSInvocationState.Stopped): PipelineState.STOPPED,
}

_INFORMATIONAL = {
    MessageType.WarningRecord: Stream.WARNING,
    MessageType.VerboseRecord: Stream.VERBOSE,
    MessageType.DebugRecord: Stream.DEBUG,
}


def record_of(message: Message, host: str, cipher: Any = None) -> RecordEvent | None:
    """The record a pipeline message carries, or None for other messages."""
    kind = message.type
    if kind == MessageType.PipelineOutput:
        value = clixml.read(message.data, cipher) if message.data else None
        return RecordEvent(host, Stream.OUTPUT, value)
    if kind == MessageType.ErrorRecord:
        return RecordEvent(host, Stream.ERROR, error_record(clixml.read(message.data), host))
    stream = _INFORMATIONAL.get(kind)  # type: ignore[call-overload]
    if stream is not None:
        return RecordEvent(host, stream, _informational(clixml.read(message.data), host))
    if kind == MessageType.InformationRecord:
        return RecordEvent(host, Stream.INFORMATION, _information(clixml.read(message.data), host))
    if kind == MessageType.ProgressRecord:
        return RecordEvent(host, Stream.PROGRESS, _progress(clixml.read(message.data), host))
    return None


def state_of(data: bytes, key: str, host: str) -> tuple[int, ErrorRecord | None]:
    """A PipelineState or RunspacePoolState message: the state and its error, if any."""
    view = clixml.read(data)
    state = _int(member(view, key), -1)
    reason = member(view, "ExceptionAsErrorRecord")
    return state, error_record(reason, host) if reason is not None else None


def member(obj: Any, name: str) -> Any:
    """A property of a decoded object, by case-insensitive name, or None."""
    if isinstance(obj, PSObjectView):
        return obj.get(name)
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
    exception = member(record, "Exception")
    exception_type = (
        exception.type_names[0]
        if isinstance(exception, PSObjectView) and exception.type_names
        else None
    )
    message = (
        _text(member(record, "ErrorDetails_Message"))
        or _text(member(exception, "Message"))
        or (record.to_string if isinstance(record, PSObjectView) else None)
        or ""
    )
    return ErrorRecord(
        host=host,
        message=message,
        category=_category(member(record, "ErrorCategory_Category")),
        category_info=_text(member(record, "ErrorCategory_Message")) or "",
        fully_qualified_error_id=_text(member(record, "FullyQualifiedErrorId")),
        target_name=_text(member(record, "ErrorCategory_TargetName")) or None,
        target_object=member(record, "TargetObject"),
        exception_type=exception_type.removeprefix("Deserialized.") if exception_type else None,
        script_stack_trace=_text(member(record, "ErrorDetails_ScriptStackTrace")),
        position_message=_text(_invocation(record, "PositionMessage")) or None,
        script_name=_text(_invocation(record, "ScriptName")) or None,
        line_number=_opt_int(_invocation(record, "ScriptLineNumber")),
        offset_in_line=_opt_int(_invocation(record, "OffsetInLine")),
        command=_text(member(record, "CommandInfo_Name")) or None,
        recommended_action=_text(member(record, "ErrorDetails_RecommendedAction")) or None,
    )


def _invocation(record: Any, name: str) -> Any:
    """Flattened as InvocationInfo_<name> with SerializeExtendedInfo, else in InvocationInfo."""
    value = member(record, f"InvocationInfo_{name}")
    return value if value is not None else member(member(record, "InvocationInfo"), name)


def _category(value: Any) -> str:
    number = _opt_int(value.value if isinstance(value, PSObjectView) else value)
    if number is None:
        return "NotSpecified"
    try:
        return ErrorCategory(number).name
    except ValueError:
        return str(number)


def _informational(record: Any, host: str) -> InformationalRecord:
    message = member(record, "InformationalRecord_Message")
    if message is None:
        message = member(record, "Message")
    return InformationalRecord(
        host=host,
        message=_text(message) or "",
        command=_text(member(record, "CommandInfo_Name")) or None,
    )


def _information(record: Any, host: str) -> InformationRecord:
    tags = member(record, "Tags") or []
    generated = member(record, "TimeGenerated")
    return InformationRecord(
        host=host,
        message_data=member(record, "MessageData"),
        source=_text(member(record, "Source")),
        tags=tuple(str(tag) for tag in tags),
        time_generated=generated if isinstance(generated, datetime) else None,
        user=_text(member(record, "User")),
        computer=_text(member(record, "Computer")),
    )


def _progress(record: Any, host: str) -> ProgressRecord:
    record_type = member(record, "Type")
    return ProgressRecord(
        host=host,
        activity=_text(member(record, "Activity")) or "",
        status=_text(member(record, "StatusDescription")) or "",
        activity_id=_int(member(record, "ActivityId"), 0),
        parent_activity_id=_int(member(record, "ParentActivityId"), -1),
        current_operation=_text(member(record, "CurrentOperation")),
        percent_complete=_int(member(record, "PercentComplete"), -1),
        seconds_remaining=_int(member(record, "SecondsRemaining"), -1),
        completed=str(record_type) == "Completed" or getattr(record_type, "value", None) == 1,
    )

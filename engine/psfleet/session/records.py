"""What a pipeline gives back, as plain Python: records of each stream and the result.

Every record carries the host it came from (PowerShell's PSComputerName).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psfleet.errors import RemoteScriptError
from psfleet.events import RecordEvent, Stream


class PipelineState(enum.StrEnum):
    """Final states of a PowerShell pipeline (PSInvocationState)."""

    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class ErrorRecord:
    """An error the script wrote (Write-Error, a failed cmdlet) or that terminated it."""

    host: str
    message: str
    category: str  # ErrorCategory name: NotSpecified, ObjectNotFound, ...
    category_info: (
        str  # PowerShell's CategoryInfo line, e.g. "NotSpecified: (:) [Write-Error], ..."
    )
    fully_qualified_error_id: str | None
    target_name: str | None = None
    target_object: Any = None
    exception_type: str | None = None
    script_stack_trace: str | None = None
    position_message: str | None = None
    script_name: str | None = None
    line_number: int | None = None
    offset_in_line: int | None = None
    command: str | None = None
    recommended_action: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class InformationalRecord:
    """A warning, verbose or debug message."""

    host: str
    message: str
    command: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class InformationRecord:
    """Write-Information (and Write-Host on PowerShell 5+)."""

    host: str
    message_data: Any
    source: str | None = None
    tags: tuple[str, ...] = ()
    time_generated: datetime | None = None
    user: str | None = None
    computer: str | None = None

    def __str__(self) -> str:
        return str(self.message_data)


@dataclass(frozen=True, slots=True)
class ProgressRecord:
    host: str
    activity: str
    status: str
    activity_id: int = 0
    parent_activity_id: int = -1
    current_operation: str | None = None
    percent_complete: int = -1
    seconds_remaining: int = -1
    completed: bool = False


@dataclass(slots=True)
class PipelineResult:
    """Everything one pipeline produced on one host, and how it ended."""

    host: str
    output: list[Any] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    warnings: list[InformationalRecord] = field(default_factory=list)
    verbose: list[InformationalRecord] = field(default_factory=list)
    debug: list[InformationalRecord] = field(default_factory=list)
    information: list[InformationRecord] = field(default_factory=list)
    progress: list[ProgressRecord] = field(default_factory=list)
    state: PipelineState | None = None
    reason: ErrorRecord | None = None  # the terminating error of a Failed pipeline

    @property
    def had_errors(self) -> bool:
        """As PowerShell's HadErrors: anything on the error stream, or a failed pipeline."""
        return bool(self.errors) or self.state is PipelineState.FAILED

    def add(self, record: RecordEvent) -> None:
        getattr(self, _RESULT_FIELDS[record.stream]).append(record.data)

    def records(self) -> Iterator[RecordEvent]:
        for stream, name in _RESULT_FIELDS.items():
            for data in getattr(self, name):
                yield RecordEvent(self.host, stream, data)

    def raise_for_state(self) -> None:
        """Raise RemoteScriptError when the script was terminated by an error."""
        if self.state is not PipelineState.FAILED:
            return
        reason = self.reason or (self.errors[-1] if self.errors else None)
        if reason is None:
            raise RemoteScriptError("the pipeline failed", host=self.host)
        raise RemoteScriptError(
            reason.message,
            host=self.host,
            error_id=reason.fully_qualified_error_id,
            category=reason.category,
        )


_RESULT_FIELDS = {
    Stream.OUTPUT: "output",
    Stream.ERROR: "errors",
    Stream.WARNING: "warnings",
    Stream.VERBOSE: "verbose",
    Stream.DEBUG: "debug",
    Stream.INFORMATION: "information",
    Stream.PROGRESS: "progress",
}


@dataclass(frozen=True, slots=True)
class CmdResult:
    """The outcome of one command on the cmd shell (WinRS)."""

    host: str
    stdout: bytes
    stderr: bytes
    exit_code: int | None

    def text(self, encoding: str = "utf-8") -> tuple[str, str]:
        """stdout and stderr decoded (cmd.exe writes in the console code page: pass it)."""
        return (
            self.stdout.decode(encoding, "replace"),
            self.stderr.decode(encoding, "replace"),
        )

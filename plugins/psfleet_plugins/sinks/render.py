"""Records as console lines: host-prefixed, styled by stream, safe for a terminal.

Remote text is untrusted: control characters (an ESC could rewrite the terminal) are
shown as U+FFFD, and every line is a rich Text, so `[red]` in a message stays literal.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from rich.text import Text

from psfleet.events import RecordEvent, Stream
from psfleet.serialize import SECURE_STRING, to_jsonable
from psfleet.session.convert import PSObjectView, SecureString
from psfleet.session.records import ErrorRecord

_CONTROL = {code: "\ufffd" for code in (*range(32), 127) if code != ord("\t")}
_PREFIXES = {Stream.WARNING: "WARNING: ", Stream.VERBOSE: "VERBOSE: ", Stream.DEBUG: "DEBUG: "}
_STYLES = {
    Stream.ERROR: "red",
    Stream.WARNING: "yellow",
    Stream.VERBOSE: "dim",
    Stream.DEBUG: "dim",
}
HOST_STYLE = "cyan"


def clean(text: str) -> str:
    return text.translate(_CONTROL)


def host_lines(host: str, lines: Iterable[str], style: str = "") -> Text:
    """Each line prefixed with its host, as Invoke-Command's PSComputerName."""
    prefix = f"[{clean(host)}] "
    # Remote text carries its own line breaks (\r\n from Windows): each becomes a prefixed line.
    split = [part for line in lines for part in (line.splitlines() or [""])]
    return Text("\n").join(
        Text.assemble((prefix, HOST_STYLE), (clean(part), style)) for part in split
    )


def record_text(record: RecordEvent) -> Text | None:
    """The console form of one record; None for what the console does not show."""
    if record.stream is Stream.PROGRESS:
        return None  # the live bar is the console's progress; records go to --json
    if record.stream is Stream.ERROR:
        lines = _error_lines(record.data)
    elif record.stream in _PREFIXES:
        lines = [_PREFIXES[record.stream] + str(record.data)]
    else:
        data = getattr(record.data, "message_data", record.data)  # an InformationRecord
        if data is None:
            return None  # PowerShell shows nothing for $null
        lines = [describe(data)]
    return host_lines(record.host, _split(lines), _STYLES.get(record.stream, ""))


def describe(value: Any) -> str:
    """A compact one-value form: ToString, or Name=Value pairs for an object with properties."""
    if isinstance(value, PSObjectView):
        if not value.properties:
            return str(value)
        return "; ".join(f"{name}={_short(item)}" for name, item in value.properties.items())
    return _short(value)


def _short(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value)  # True/False, as PowerShell prints them
    if isinstance(value, SecureString):
        return SECURE_STRING
    if isinstance(value, PSObjectView | datetime.datetime | int | float):
        return str(value)
    return str(to_jsonable(value, max_depth=2))


def _error_lines(data: Any) -> list[str]:
    if not isinstance(data, ErrorRecord):
        return [describe(data)]
    lines = [data.message]
    if data.position_message:
        lines.append(data.position_message)
    lines.append(f"    + CategoryInfo          : {data.category_info}")
    if data.fully_qualified_error_id:
        lines.append(f"    + FullyQualifiedErrorId : {data.fully_qualified_error_id}")
    return lines


def _split(lines: list[str]) -> list[str]:
    # Out-String and multi-line messages use \r\n; every physical line gets its host prefix.
    return [part for line in lines for part in line.splitlines() or [""]]

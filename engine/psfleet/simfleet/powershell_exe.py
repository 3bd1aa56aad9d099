"""`powershell.exe` inside a cmd shell, as pywinrm's run_ps (or a bare command line) calls it.

Output is printed through Out-String, Write-Host text as it is written; errors go to
stderr as the CLIXML error stream powershell.exe writes when its stdout is redirected
("#< CLIXML"). The run is a sequence of steps so that a script that sleeps is seen
running, as on Windows, by a Receive long poll.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from typing import Any
from xml.sax.saxutils import escape

from psfleet.simfleet.cmdshell import CmdResult
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import Error, Finished, Information, Output, Sleep, Warning, run_script
from psfleet.simfleet.minips.formatting import out_string

# Printed stdout, a pause, and last the CmdResult with stderr and the exit code.
Step = bytes | Sleep | CmdResult

_ENCODED_FLAGS = frozenset({"-encodedcommand", "-enc", "-e", "-ec"})
_COMMAND_FLAGS = frozenset({"-command", "-c"})
# Parameters of powershell.exe that take a value (the value is not the command).
_VALUED_FLAGS = frozenset(
    {
        "-executionpolicy",
        "-ep",
        "-ex",
        "-windowstyle",
        "-w",
        "-inputformat",
        "-outputformat",
        "-of",
        "-version",
        "-configurationname",
        "-psconsolefile",
    }
)
_CLIXML_HEAD = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
)


def is_powershell(words: Sequence[str]) -> bool:
    return bool(words) and words[0].lower() in ("powershell", "powershell.exe")


def script_of(words: Sequence[str]) -> str | None:
    """The script a powershell.exe command line carries, or None if it carries none.

    As powershell.exe does: -EncodedCommand X, -Command ..., or else everything from
    the first argument that is not a parameter.
    """
    rest = list(words[1:])
    while rest:
        word = rest.pop(0)
        flag = word.lower()
        if flag in _ENCODED_FLAGS:
            return _decode(rest[0]) if rest else None
        if flag in _COMMAND_FLAGS:
            return " ".join(rest) or None
        if flag in _VALUED_FLAGS:
            rest = rest[1:]
        elif not flag.startswith("-"):
            return " ".join([word, *rest])
    return None


def _decode(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode("utf-16-le")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _clixml_line(stream: str, text: str) -> str:
    # PowerShell escapes CR and LF inside serialized strings as _x000D_ and _x000A_.
    encoded = escape(text).replace("\r", "_x000D_").replace("\n", "_x000A_")
    return f'<S S="{stream}">{encoded}_x000D__x000A_</S>'


def _error_text(record: Any) -> str:
    exception = getattr(record, "Exception", None)
    message = str(getattr(exception, "Message", "") or record)
    category = getattr(record, "CategoryInfo", None)
    reason = getattr(category, "Reason", "") if category is not None else ""
    error_id = getattr(record, "FullyQualifiedErrorId", "") or ""
    return (
        f"{message}\r\n    + CategoryInfo          : {reason}\r\n"
        f"    + FullyQualifiedErrorId : {error_id}"
    )


def _printed(values: list[Any]) -> Iterator[bytes]:
    """Objects written so far, formatted as Out-String prints them; then forgotten."""
    if values:
        yield "".join(f"{line}\r\n" for line in out_string(values)).encode("utf-8")
        values.clear()


def run_powershell(words: Sequence[str], context: SessionContext) -> Iterator[Step]:
    script = script_of(words)
    if script is None:
        yield CmdResult(b"", b"powershell.exe: no -EncodedCommand or -Command given\r\n", 1)
        return
    values: list[Any] = []
    errors: list[str] = []
    last_failed = False
    exit_code: int | None = None
    for item in run_script(script, context):
        if isinstance(item, Output):
            values.append(item.value)
        elif isinstance(item, Information) and "PSHOST" in item.tags:
            # The console host writes Write-Host text, then its newline, at once.
            yield from _printed(values)
            yield str(item.message_data).encode("utf-8")
            yield b"\n"
        elif isinstance(item, Sleep):
            yield from _printed(values)
            yield item
        elif isinstance(item, Error):
            errors.append(_clixml_line("Error", _error_text(item.record)))
        elif isinstance(item, Warning):
            errors.append(_clixml_line("warning", item.message))
        elif isinstance(item, Finished):
            if item.failed and item.error is not None:
                errors.append(_clixml_line("Error", _error_text(item.error)))
            last_failed = item.failed or any('S="Error"' in e for e in errors)
            exit_code = item.exit_code
    yield from _printed(values)
    stderr = (_CLIXML_HEAD + "".join(errors) + "</Objs>").encode("utf-8") if errors else b""
    code = exit_code if exit_code is not None else (1 if last_failed else 0)
    yield CmdResult(b"", stderr, code)

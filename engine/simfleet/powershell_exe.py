"""`powershell.exe` inside a cmd shell, as pywinrm's run_ps calls it.

Output is printed through Out-String; errors go to stderr as the CLIXML error
stream powershell.exe writes when its stdout is redirected ("#< CLIXML").
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from psfleet.simfleet.cmdshell import CmdResult
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import Error, Finished, Output, Warning, run_script
from psfleet.simfleet.minips.formatting import out_string

_ENCODED_FLAGS = frozenset({"-encodedcommand", "-enc", "-e", "-ec"})
_COMMAND_FLAGS = frozenset({"-command", "-c"})
_CLIXML_HEAD = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
)


def is_powershell(words: Sequence[str]) -> bool:
    return bool(words) and words[0].lower() in ("powershell", "powershell.exe")


def script_of(words: Sequence[str]) -> str | None:
    """The script a powershell.exe command line carries, or None if it carries none."""
    for i, word in enumerate(words[1:-1], start=1):
        flag = word.lower()
        if flag in _ENCODED_FLAGS:
            try:
                return base64.b64decode(words[i + 1], validate=True).decode("utf-16-le")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return None
        if flag in _COMMAND_FLAGS:
            return " ".join(words[i + 1 :])
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


def run_powershell(words: Sequence[str], context: SessionContext) -> CmdResult:
    script = script_of(words)
    if script is None:
        return CmdResult(b"", b"powershell.exe: no -EncodedCommand or -Command given\r\n", 1)
    values: list[Any] = []
    errors: list[str] = []
    last_failed = False
    exit_code: int | None = None
    for item in run_script(script, context):
        if isinstance(item, Output):
            values.append(item.value)
        elif isinstance(item, Error):
            errors.append(_clixml_line("Error", _error_text(item.record)))
        elif isinstance(item, Warning):
            errors.append(_clixml_line("warning", item.message))
        elif isinstance(item, Finished):
            if item.failed and item.error is not None:
                errors.append(_clixml_line("Error", _error_text(item.error)))
            last_failed = item.failed or any('S="Error"' in e for e in errors)
            exit_code = item.exit_code
    stdout = "".join(f"{line}\r\n" for line in out_string(values)).encode("utf-8")
    stderr = (_CLIXML_HEAD + "".join(errors) + "</Objs>").encode("utf-8") if errors else b""
    code = exit_code if exit_code is not None else (1 if last_failed else 0)
    return CmdResult(stdout, stderr, code)

""".NET types that file transfer scripts call: System.IO.File/Directory/Path, FileStream,
SHA256, Convert, BitConverter, Math.Ceiling/Floor and the System.IO enums.

Byte arrays are Python bytes/bytearray. Streams belong to the run that opened them and
are closed when it ends, whatever the way (a stopped pipeline leaves them to .NET's
finalizer on Windows, which closes them soon after). A .NET exception reaches the script
as PowerShell wraps it: MethodInvocationException, "Exception calling "Open" with "4"
argument(s): ...", the inner exception's short type name as FullyQualifiedErrorId.
"""

from __future__ import annotations

import binascii
import hashlib
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pybase64
from psrpcore.types import ErrorCategory, ErrorRecord

from psfleet.simfleet.filesystem import HostFiles, SimFile, WindowsIOError, part_not_found
from psfleet.simfleet.minips import records
from psfleet.simfleet.minips.values import to_number, to_string

if TYPE_CHECKING:
    from psfleet.simfleet.minips.evaluator import Runtime

_ENUMS = {
    "io.filemode": ("CreateNew", "Create", "Open", "OpenOrCreate", "Truncate", "Append"),
    "io.fileaccess": ("Read", "Write", "ReadWrite"),
    "io.fileshare": ("None", "Read", "Write", "ReadWrite", "Delete", "Inheritable"),
    "io.searchoption": ("TopDirectoryOnly", "AllDirectories"),
}
IO_TYPES = frozenset(
    {"io.file", "io.directory", "security.cryptography.sha256", *_ENUMS}
)  # what a cached answer must never stand in for: the disk changes
_TYPES = IO_TYPES | {"io.path", "convert", "bitconverter", "math"}
_METHOD_EXCEPTION = [
    "System.Management.Automation.MethodInvocationException",
    "System.Management.Automation.MethodException",
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
]


class DotNetError(Exception):
    """A .NET exception thrown by a method: (type name, message, HResult)."""

    def __init__(self, type_name: str, message: str, hresult: int = -2146233087) -> None:
        super().__init__(message)
        self.type_name, self.message, self.hresult = type_name, message, hresult


# What a void method writes to the pipeline: nothing (an empty collection unrolls to nothing).
VOID: tuple[()] = ()


def output(result: Any) -> Any:
    """Methods here return None only when .NET's is void."""
    return VOID if result is None else result


def simple_type(type_name: str) -> str:
    return type_name.lower().removeprefix("system.")


def handles(type_name: str) -> bool:
    return simple_type(type_name) in _TYPES


def enum_member(type_name: str, name: str) -> str | None:
    for value in _ENUMS.get(simple_type(type_name), ()):
        if value.lower() == name.lower():
            return value
    return None


def method_error(name: str, args: list[Any], error: WindowsIOError | DotNetError) -> ErrorRecord:
    """What PowerShell makes of an exception thrown by a .NET method."""
    inner = records.exception(
        [error.type_name, "System.SystemException"], error.message, error.hresult
    )
    message = f'Exception calling "{name}" with "{len(args)}" argument(s): "{error.message}"'
    outer = records.exception(_METHOD_EXCEPTION, message)
    outer.InnerException = inner
    return records.record(outer, ErrorCategory.NotSpecified, error.type_name.rpartition(".")[2])


class DotNetObject:
    """An instance scripts call methods on; members and methods are matched case-insensitively."""

    type_name = "System.Object"

    def member(self, lower: str) -> Any:
        raise LookupError(lower)

    def call(self, lower: str, args: list[Any]) -> Any:
        raise LookupError(lower)


class FileStream(DotNetObject):
    type_name = "System.IO.FileStream"

    def __init__(self, file: SimFile) -> None:
        self.file = file

    def member(self, lower: str) -> Any:
        if lower == "length":
            return self.file.length
        if lower == "name":
            return self.file.path
        if lower in ("canread", "canwrite"):
            return self.file.writable == (lower == "canwrite")
        raise LookupError(lower)

    def call(self, lower: str, args: list[Any]) -> Any:
        if lower in ("dispose", "close"):
            self.file.close()
            return None
        if lower == "flush":
            return None
        if self.file.closed:
            raise DotNetError("System.ObjectDisposedException", "Cannot access a closed file.")
        if lower == "write":
            buffer, offset, count = _buffer_args(args)
            self.file.write(bytes(buffer[offset : offset + count]))
            return None
        if lower == "read":
            buffer, offset, count = _buffer_args(args)
            if not isinstance(buffer, bytearray):
                raise DotNetError("System.ArgumentException", "The buffer is read-only.")
            data = self.file.read(count)
            buffer[offset : offset + len(data)] = data
            return len(data)
        raise LookupError(lower)


class Sha256(DotNetObject):
    type_name = "System.Security.Cryptography.SHA256Managed"

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self._final: bytes | None = None

    def member(self, lower: str) -> Any:
        if lower == "hash":
            if self._final is None:
                raise DotNetError(
                    "System.Security.Cryptography.CryptographicUnexpectedOperationException",
                    "Hash must be finalized before the hash value is retrieved.",
                )
            return self._final
        if lower == "hashsize":
            return 256
        raise LookupError(lower)

    def call(self, lower: str, args: list[Any]) -> Any:
        if lower == "transformblock":
            buffer, offset, count = _buffer_args(args[:3])
            self._hash.update(buffer[offset : offset + count])
            return count
        if lower == "transformfinalblock":
            buffer, offset, count = _buffer_args(args[:3])
            self._hash.update(buffer[offset : offset + count])
            self._final = self._hash.digest()
            self._hash = hashlib.sha256()
            return bytes(buffer[offset : offset + count])
        if lower == "computehash" and len(args) == 1:
            return hashlib.sha256(_bytes(args[0])).digest()
        if lower in ("dispose", "clear"):
            return None
        raise LookupError(lower)


def _bytes(value: Any) -> bytes | bytearray:
    if isinstance(value, bytes | bytearray):
        return value
    if value is None:
        raise DotNetError(
            "System.ArgumentNullException", "Value cannot be null.\r\nParameter name: buffer"
        )
    raise DotNetError(
        "System.Management.Automation.PSInvalidCastException",
        f'Cannot convert the "{to_string(value)}" value to type "System.Byte[]".',
    )


def _buffer_args(args: list[Any]) -> tuple[bytes | bytearray, int, int]:
    buffer = _bytes(args[0])
    offset, count = int(to_number(args[1])), int(to_number(args[2]))
    if offset < 0 or count < 0 or offset + count > len(buffer):
        raise DotNetError(
            "System.ArgumentException",
            "Offset and length were out of bounds for the array or count is greater than the "
            "number of elements from index to the end of the source collection.",
        )
    return buffer, offset, count


# --- static methods -------------------------------------------------------------------


def static_call(rt: Runtime, type_name: str, name: str, args: list[Any]) -> Any:
    """[Type]::Name(args); LookupError when the type has no such method."""
    kind, lower = simple_type(type_name), name.lower()
    table = _STATICS.get(kind, {})
    if lower not in table:
        raise LookupError(name)
    return table[lower](rt, args)


def _files(rt: Runtime) -> HostFiles:
    files = rt.ctx.files
    if files is None:  # a host without a disk (minips on its own): nothing exists
        raise part_not_found("C:\\")
    files.ensure_profile(rt.ctx.user)
    return files


def _open(rt: Runtime, args: list[Any]) -> FileStream:
    path = to_string(args[0])
    mode = to_string(args[1]).lower() if len(args) > 1 else "open"
    access = to_string(args[2]).lower() if len(args) > 2 else "readwrite"
    files = _files(rt)
    if mode == "open" and access == "read":
        file = files.open_read(path)
    elif mode in ("createnew", "create"):
        file = files.open_write(path, create_new=mode == "createnew")
    else:
        raise DotNetError(
            "System.NotSupportedException", f"simfleet does not open files in mode {mode}."
        )
    rt.handles.append(file)
    return FileStream(file)


def _from_base64(args: list[Any]) -> bytes:
    try:
        return pybase64.b64decode(to_string(args[0]), validate=True)
    except (binascii.Error, ValueError):
        raise DotNetError(
            "System.FormatException",
            "The input is not a valid Base-64 string as it contains a non-base 64 character, "
            "more than two padding characters, or an illegal character among the padding "
            "characters. ",
        ) from None


def _to_base64(args: list[Any]) -> str:
    if len(args) == 3:
        buffer, offset, count = _buffer_args(args)
        return pybase64.b64encode(buffer[offset : offset + count]).decode("ascii")
    return pybase64.b64encode(_bytes(args[0])).decode("ascii")


def _directory_name(path: str) -> str | None:
    text = path.replace("/", "\\")
    if len(text) <= 3 and text[1:2] == ":":
        return None  # a drive's root has no parent
    head, sep, _ = text.rpartition("\\")
    if not sep:
        return ""
    return head + "\\" if head.endswith(":") else head


def _search_pattern(args: list[Any]) -> re.Pattern[str]:
    """GetFiles' searchPattern (its second argument, default '*'): only * and ? are
    wildcards, and names match case-insensitively, as on NTFS."""
    pattern = to_string(args[1]) if len(args) > 1 else "*"
    text = re.escape(pattern).replace("\\*", ".*").replace("\\?", ".")
    return re.compile(text, re.IGNORECASE | re.DOTALL)


Static = Callable[["Runtime", list[Any]], Any]
_STATICS: dict[str, dict[str, Static]] = {
    "io.file": {
        "open": _open,
        "exists": lambda rt, a: _files(rt).is_file(to_string(a[0])),
        "delete": lambda rt, a: _files(rt).delete(to_string(a[0])),
        "move": lambda rt, a: _files(rt).move(to_string(a[0]), to_string(a[1])),
    },
    "io.directory": {
        "createdirectory": lambda rt, a: _files(rt).make_dirs(to_string(a[0])),
        "exists": lambda rt, a: _files(rt).is_dir(to_string(a[0])),
        "getfiles": lambda rt, a: [
            e.path
            for e in _files(rt).entries(
                to_string(a[0]),
                recurse=len(a) > 2 and to_string(a[2]).lower() == "alldirectories",
            )
            if not e.is_dir and _search_pattern(a).fullmatch(e.path.rpartition("\\")[2])
        ],
    },
    "io.path": {
        "getdirectoryname": lambda rt, a: _directory_name(to_string(a[0])),
        "getfilename": lambda rt, a: to_string(a[0]).replace("/", "\\").rpartition("\\")[2],
    },
    "security.cryptography.sha256": {"create": lambda rt, a: Sha256()},
    "convert": {
        "frombase64string": lambda rt, a: _from_base64(a),
        "tobase64string": lambda rt, a: _to_base64(a),
    },
    "bitconverter": {"tostring": lambda rt, a: "-".join(f"{b:02X}" for b in _bytes(a[0]))},
    "math": {
        "ceiling": lambda rt, a: math.ceil(to_number(a[0])),
        "floor": lambda rt, a: math.floor(to_number(a[0])),
    },
}

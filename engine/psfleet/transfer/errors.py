"""What can go wrong with a file on one host, as typed errors (never a silent success).

The remote scripts report through .NET exception types (the FullyQualifiedErrorId of a
method's exception is its short type name) and their own `psfleet-...:` tags, never
through Windows' message texts, which depend on the host's language.
"""

from __future__ import annotations

from psfleet.errors import RemoteScriptError
from psfleet.session.records import ErrorRecord


class TransferError(RemoteScriptError):
    """A file could not be copied or fetched on this host. Never retried."""

    remedy: str | None = None

    def __init__(self, message: str, *, host: str | None = None, path: str | None = None) -> None:
        super().__init__(message, host=host)
        self.path = path


class HashMismatch(TransferError):
    """What arrived does not have the SHA-256 that was sent: the destination was left as it was."""


class RemotePathNotFound(TransferError):
    """No such file, folder or drive on the host."""


class RemoteAccessDenied(TransferError):
    """The host refused to let this account write (or read) the path."""

    remedy = "choose a path the account may write, or connect as an account that may"


class RemotePathTooLong(TransferError):
    """The path is longer than Windows' MAX_PATH (260 characters)."""


class DiskFull(TransferError):
    """The host's disk (or the account's quota on it) has no room for the file."""

    remedy = "free space on the host's disk (or raise the quota), or copy to another volume"


class LocalWriteError(TransferError):
    """fetch could not write its local copy (DEST_DIR not writable, local disk full)."""


_BY_EXCEPTION = {
    "FileNotFoundException": RemotePathNotFound,
    "DirectoryNotFoundException": RemotePathNotFound,
    "DriveNotFoundException": RemotePathNotFound,
    "ItemNotFoundException": RemotePathNotFound,
    "UnauthorizedAccessException": RemoteAccessDenied,
    "PathTooLongException": RemotePathTooLong,
}
_TAGS = {"psfleet-disk-full:": DiskFull, "psfleet-hash-mismatch:": HashMismatch}


def from_record(record: ErrorRecord | None, host: str, path: str) -> TransferError:
    """The typed error for the terminating error of a transfer script."""
    if record is None:
        return TransferError("the transfer script failed without a reason", host=host, path=path)
    error_id = record.fully_qualified_error_id or ""
    for tag, kind in _TAGS.items():
        if error_id.startswith(tag) or record.message.startswith(tag):
            return kind(record.message.removeprefix(tag).strip(), host=host, path=path)
    short_id = error_id.partition(",")[0]
    for name, kind in _BY_EXCEPTION.items():
        exception_type = record.exception_type or ""
        if short_id == name or exception_type.endswith("." + name):
            return kind(record.message, host=host, path=path)
    if short_id in ("PathNotFound", "FileNotFound", "DriveNotFound"):
        return RemotePathNotFound(record.message, host=host, path=path)
    return TransferError(record.message, host=host, path=path)

"""Cmdlets on the host's simulated disk: Test-Path, Get-FileHash, Remove-Item, Join-Path,
New-Object (byte arrays). Errors are Windows PowerShell 5.1's for a missing path, a
missing drive and denied access."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from psrpcore.types import ErrorCategory, ErrorRecord, InvocationInfo

from psfleet.simfleet.filesystem import HostFiles, WindowsIOError, normalize
from psfleet.simfleet.minips import objects, records
from psfleet.simfleet.minips.commands import Bound, cmdlet
from psfleet.simfleet.minips.evaluator import Runtime
from psfleet.simfleet.minips.values import enumerate_value, to_number, to_string

_COMMANDS = "Microsoft.PowerShell.Commands.{}Command"
_ITEM_NOT_FOUND = [
    "System.Management.Automation.ItemNotFoundException",
    "System.Management.Automation.SessionStateException",
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
]
_DRIVE_NOT_FOUND = [
    "System.Management.Automation.DriveNotFoundException",
    "System.Management.Automation.SessionStateException",
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
]


def _paths(bound: Bound) -> list[str]:
    given = bound.get("LiteralPath") if bound.has("LiteralPath") else bound.get("Path")
    return [to_string(p) for p in enumerate_value(given)]


def _files(rt: Runtime) -> HostFiles | None:
    files = rt.ctx.files
    if files is not None:
        files.ensure_profile(rt.ctx.user)
    return files


def _missing(
    path: str, error_id: str, cmdlet_name: str, where: InvocationInfo | None
) -> ErrorRecord:
    drive, sep, _ = normalize(path).partition(":")
    if sep and drive.upper() != "C":
        exc = records.exception(
            _DRIVE_NOT_FOUND, f"Cannot find drive. A drive with the name '{drive}' does not exist."
        )
        error_id = "DriveNotFound"
        target: Any = drive
    else:
        exc = records.exception(
            _ITEM_NOT_FOUND, f"Cannot find path '{path}' because it does not exist."
        )
        target = path
    return records.record(
        exc,
        ErrorCategory.ObjectNotFound,
        f"{error_id},{_COMMANDS.format(cmdlet_name)}",
        target=target,
        activity=cmdlet_name[:3] + "-" + cmdlet_name[3:],
        where=where,
    )


@cmdlet(
    "Test-Path",
    _COMMANDS.format("TestPath"),
    params=("Path", "LiteralPath", "PathType"),
    switches=("IsValid",),
    positional=("Path",),
    pure=False,
)
def test_path(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    files = _files(rt)
    kind = to_string(bound.get("PathType") or "Any").lower()
    for path in _paths(bound):
        if files is None:
            yield False
        elif kind == "leaf":
            yield files.is_file(path)
        elif kind == "container":
            yield files.is_dir(path)
        else:
            yield files.exists(path)


@cmdlet(
    "Get-FileHash",
    "Microsoft.PowerShell.Commands.GetFileHashCommand",
    params=("Path", "LiteralPath", "Algorithm"),
    positional=("Path",),
    pure=False,
)
def get_file_hash(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    files = _files(rt)
    algorithm = to_string(bound.get("Algorithm") or "SHA256").upper()
    where = rt.where(bound.pos, bound.name)
    if algorithm != "SHA256":
        raise ValueError(f"simfleet's Get-FileHash computes SHA256 only, not {algorithm}")
    for path in _paths(bound):
        if files is None or not files.is_file(path):
            rt.write_error(_missing(path, "FileNotFound", "GetFileHash", where), bound)
            continue
        full = normalize(path)
        yield objects.custom(
            {"Algorithm": "SHA256", "Hash": files.sha256(full), "Path": full},
            "Microsoft.Powershell.Utility.FileHash",
        )


@cmdlet(
    "Remove-Item",
    _COMMANDS.format("RemoveItem"),
    params=("Path", "LiteralPath", "Filter", "Include", "Exclude", "Credential"),
    switches=("Force", "Recurse"),
    positional=("Path",),
    pure=False,
    aliases=("del", "rm", "erase", "ri", "rd", "rmdir"),
)
def remove_item(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    files = _files(rt)
    where = rt.where(bound.pos, bound.name)
    for path in _paths(bound):
        if files is None or not files.exists(path):
            rt.write_error(_missing(path, "PathNotFound", "RemoveItem", where), bound)
            continue
        try:
            files.delete(path)
        except WindowsIOError as err:
            rt.write_error(_remove_failed(path, err, where), bound)
    yield from ()


def _remove_failed(path: str, err: WindowsIOError, where: InvocationInfo | None) -> ErrorRecord:
    denied = err.kind == "UnauthorizedAccessException"
    exc = records.exception(
        [err.type_name, "System.SystemException"],
        f"Cannot remove item {normalize(path)}: {err.message}",
        err.hresult,
    )
    error_id = "RemoveFileSystemItemUnAuthorizedAccess" if denied else "RemoveFileSystemItemIOError"
    return records.record(
        exc,
        ErrorCategory.PermissionDenied if denied else ErrorCategory.WriteError,
        f"{error_id},{_COMMANDS.format('RemoveItem')}",
        target=path,
        activity="Remove-Item",
        where=where,
    )


@cmdlet(
    "Join-Path",
    _COMMANDS.format("JoinPath"),
    params=("Path", "ChildPath"),
    switches=("Resolve",),
    positional=("Path", "ChildPath"),
)
def join_path(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    child = to_string(bound.get("ChildPath")).replace("/", "\\").lstrip("\\")
    for path in enumerate_value(bound.get("Path")):
        yield to_string(path).replace("/", "\\").rstrip("\\") + "\\" + child


@cmdlet(
    "New-Object",
    "Microsoft.PowerShell.Commands.NewObjectCommand",
    params=("TypeName", "ArgumentList", "Property"),
    positional=("TypeName", "ArgumentList"),
)
def new_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    type_name = to_string(bound.get("TypeName")).lower().removeprefix("system.")
    if type_name not in ("byte[]", "byte []"):
        raise ValueError(f"simfleet's New-Object makes byte[] only, not {type_name}")
    size = int(to_number(next(iter(enumerate_value(bound.get("ArgumentList"))), 0)))
    # A byte[] goes down the pipeline whole: New-Object writes it with enumeration off.
    yield bytearray(size)

"""minips on a host's simulated disk: the cmdlets and .NET calls file transfer uses,
with Windows' errors for a missing path, a missing drive, denied access and a full disk."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from psfleet.simfleet.filesystem import HostFiles
from psfleet.simfleet.hostfacts import SessionContext, derive_host, fleet_lookup
from psfleet.simfleet.minips import INPUT_PENDING, Finished, Output, run_script
from psfleet.transfer.scripts import script

HOST = derive_host("web01", "127.26.0.1")


@pytest.fixture
def disk(tmp_path: Path) -> HostFiles:
    return HostFiles(tmp_path / "web01", quota=100_000)


def _run(disk: HostFiles, text: str, **params: object) -> list[object]:
    ctx = SessionContext(HOST, "LAB\\admin", "ntlm", False, fleet_lookup([HOST]), files=disk)
    return list(run_script(text, ctx, params=params))


def _outputs(items: list[object]) -> list[object]:
    return [i.value for i in items if isinstance(i, Output)]


def _failure(items: list[object]) -> tuple[str | None, str]:
    last = items[-1]
    assert isinstance(last, Finished) and last.failed and last.error is not None
    return last.error.FullyQualifiedErrorId, str(last.error.Exception.Message)


def test_a_fresh_host_has_the_windows_folders_and_the_users_profile(disk: HostFiles) -> None:
    items = _run(
        disk,
        "Test-Path C:\\Windows\\Temp -PathType Container; Test-Path c:\\programdata; "
        "Test-Path C:\\Users\\admin -PathType Container; Test-Path C:\\nowhere",
    )
    assert _outputs(items) == [True, True, True, False]


def test_missing_paths_and_drives_fail_as_on_windows(disk: HostFiles) -> None:
    items = _run(disk, "Get-FileHash C:\\Temp\\x.bin; Remove-Item D:\\x.bin; 1 + 0")
    errors = [i.record for i in items if hasattr(i, "record")]
    assert [e.FullyQualifiedErrorId for e in errors] == [
        "FileNotFound,Microsoft.PowerShell.Commands.GetFileHashCommand",
        "DriveNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand",
    ]
    assert str(errors[0].Exception.Message) == (
        "Cannot find path 'C:\\Temp\\x.bin' because it does not exist."
    )
    assert _outputs(items) == [1]  # non-terminating: the script went on


def test_dotnet_errors_are_method_invocation_exceptions_with_the_inner_type(
    disk: HostFiles,
) -> None:
    opened = _run(
        disk,
        "$ErrorActionPreference = 'Stop'; "
        "[System.IO.File]::Open('C:\\Temp\\x.bin', [System.IO.FileMode]::Open, "
        "[System.IO.FileAccess]::Read, [System.IO.FileShare]::Read)",
    )
    assert _failure(opened) == (
        "DirectoryNotFoundException",
        'Exception calling "Open" with "4" argument(s): '
        "\"Could not find a part of the path 'C:\\Temp\\x.bin'.\"",
    )
    denied = _run(
        disk,
        "$ErrorActionPreference = 'Stop'; "
        "[System.IO.Directory]::CreateDirectory('C:\\Windows\\System32\\drivers\\x')",
    )
    assert _failure(denied)[0] == "UnauthorizedAccessException"
    too_long = _run(
        disk, "$ErrorActionPreference = 'Stop'; [System.IO.File]::Delete('C:\\" + "a" * 270 + "')"
    )
    assert _failure(too_long)[0] == "PathTooLongException"


def test_push_streams_hashes_and_moves_into_place_and_the_quota_is_a_full_disk(
    disk: HostFiles,
) -> None:
    data = bytes(range(256)) * 100
    sha = hashlib.sha256(data).hexdigest().upper()
    chunks = [base64.b64encode(data[i : i + 9000]).decode() for i in range(0, len(data), 9000)]
    ctx = SessionContext(HOST, "LAB\\admin", "ntlm", False, fleet_lookup([HOST]), files=disk)
    dest, temp = "C:\\Windows\\Temp\\a.bin", "C:\\Windows\\Temp\\a.bin.1.psfleet-tmp"

    def pending_then(items: list[str]) -> object:
        yield INPUT_PENDING  # as a server's streamed input does before the first Send
        yield from items

    items = list(
        run_script(
            script("push"),
            ctx,
            input=pending_then(chunks),
            params={"Path": dest, "TempPath": temp, "Sha256": sha},
        )
    )
    assert items[0] is INPUT_PENDING
    assert _outputs(items)[-1]["Sha256"] == sha  # type: ignore[index]
    assert _outputs(_run(disk, f"(Get-FileHash {dest}).Hash")) == [sha]
    assert disk.used == len(data)

    full = list(
        run_script(
            script("push"),
            ctx,
            input=chunks * 4,  # 4 x 25.6 kB more does not fit in the 100 kB quota
            params={"Path": "C:\\Windows\\Temp\\b.bin", "TempPath": "C:\\Windows\\Temp\\b.tmp"},
        )
    )
    assert _failure(full)[0] == "psfleet-disk-full: There is not enough space on the disk.\r\n"
    assert disk.used == len(data)  # the partial temporary file is gone, and its bytes


def test_a_full_disk_leaves_no_temporary_file(disk: HostFiles) -> None:
    big = base64.b64encode(b"\0" * 150_000).decode()
    ctx = SessionContext(HOST, "LAB\\admin", "ntlm", False, fleet_lookup([HOST]), files=disk)
    items = list(
        run_script(
            script("push"),
            ctx,
            input=[big],
            params={"Path": "C:\\ProgramData\\b.bin", "TempPath": "C:\\ProgramData\\b.tmp"},
        )
    )
    assert isinstance(items[-1], Finished) and items[-1].failed
    assert not disk.exists("C:\\ProgramData\\b.tmp")
    assert disk.used == 0

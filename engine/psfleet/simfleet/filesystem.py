"""A simulated host's file system: a real directory per host, seen through Windows paths.

`C:\\Windows\\Temp` is `<root>/C/Windows/Temp`. Names match case-insensitively, as on
NTFS. Writes count against the host's disk quota (`--disk-quota`) and the fleet's byte
counters; files stream through small reads and writes, never whole into memory. Errors
are Windows' (.NET exception type, message and HResult), for minips to wrap as
PowerShell does. Folders owned by TrustedInstaller refuse writes, even to an administrator.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# What a fresh Windows Server has, and what tests lean on.
STARTING_FOLDERS = (
    "Windows\\Temp",
    "Windows\\System32",
    "ProgramData",
    "Program Files",
    "Users\\Public",
)
# Owned by TrustedInstaller: an administrator's remote session may read, not write.
_PROTECTED = ("c:\\windows\\system32", "c:\\windows\\syswow64")
_MAX_PATH = 260  # MAX_PATH without the \\?\ prefix (Windows Server 2012 R2 and 2016 default)
_HASH_BLOCK = 1 << 20

E_FILE_NOT_FOUND = -2147024894  # 0x80070002
E_PATH_NOT_FOUND = -2147024893  # 0x80070003
E_ACCESS_DENIED = -2147024891  # 0x80070005
E_DISK_FULL = -2147024784  # 0x80070070
E_FILE_EXISTS = -2147024816  # 0x80070050
E_ALREADY_EXISTS = -2147024713  # 0x800700B7
E_PATH_TOO_LONG = -2147024690  # 0x800700CE


class WindowsIOError(Exception):
    """A .NET exception as Windows would raise it: type name, message, HResult."""

    def __init__(self, type_name: str, message: str, hresult: int, path: str) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.hresult = hresult
        self.path = path

    @property
    def kind(self) -> str:
        return self.type_name.rpartition(".")[2]


def file_not_found(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.IO.FileNotFoundException", f"Could not find file '{path}'.", E_FILE_NOT_FOUND, path
    )


def part_not_found(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.IO.DirectoryNotFoundException",
        f"Could not find a part of the path '{path}'.",
        E_PATH_NOT_FOUND,
        path,
    )


def access_denied(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.UnauthorizedAccessException",
        f"Access to the path '{path}' is denied.",
        E_ACCESS_DENIED,
        path,
    )


def disk_full(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.IO.IOException", "There is not enough space on the disk.\r\n", E_DISK_FULL, path
    )


def already_exists(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.IO.IOException", f"The file '{path}' already exists.", E_FILE_EXISTS, path
    )


def path_too_long(path: str) -> WindowsIOError:
    return WindowsIOError(
        "System.IO.PathTooLongException",
        "The specified path, file name, or both are too long. The fully qualified file name "
        "must be less than 260 characters, and the directory name must be less than 248 "
        "characters.",
        E_PATH_TOO_LONG,
        path,
    )


@dataclass(frozen=True, slots=True)
class Entry:
    path: str  # Windows form
    is_dir: bool
    length: int
    modified: float


def normalize(path: str) -> str:
    """C:/a//b\\ -> C:\\a\\b (drive upper case); relative paths are left to the caller."""
    text = path.replace("/", "\\")
    drive, sep, rest = text.partition(":")
    if not sep:
        return text
    parts = [p for p in rest.split("\\") if p not in ("", ".")]
    return drive.upper() + ":\\" + "\\".join(parts)


class HostFiles:
    """One host's disk. `count(written, read)` feeds the fleet's byte counters."""

    def __init__(
        self,
        root: Path,
        *,
        quota: int | None = None,
        count: Callable[[int, int], None] = lambda written, read: None,
    ) -> None:
        self.root = root
        self.quota = quota
        self._count = count
        self.used = 0
        self._profiles: set[str] = set()  # users whose first logon made their folders
        for folder in STARTING_FOLDERS:
            self._native("C:\\" + folder).mkdir(parents=True, exist_ok=True)

    def ensure_profile(self, user: str) -> None:
        """C:\\Users\\<user>, as the first logon creates it (once: a script may delete it
        later; each file cmdlet asked, and the walk cost 0.2 ms a time)."""
        name = user.rpartition("\\")[2]
        if name.lower() in self._profiles:
            return
        self._native(f"C:\\Users\\{name}\\AppData\\Local\\Temp").mkdir(parents=True, exist_ok=True)
        self._profiles.add(name.lower())

    # --- paths ---------------------------------------------------------------------

    def _check(self, path: str) -> str:
        full = normalize(path)
        if len(full) >= _MAX_PATH:
            raise path_too_long(path)
        if not full.startswith("C:\\") and full != "C:":
            raise part_not_found(path)
        return full

    def _native(self, path: str) -> Path:
        """The real path: each component matched case-insensitively when it exists."""
        full = self._check(path)
        native = self.root / "C"
        for part in full[3:].split("\\") if len(full) > 3 else ():
            candidate = native / part
            if not candidate.exists() and native.is_dir():
                lower = part.lower()
                for existing in os.listdir(native):
                    if existing.lower() == lower:
                        candidate = native / existing
                        break
            native = candidate
        return native

    def _writable(self, path: str) -> None:
        lower = normalize(path).lower()
        if any(lower == p or lower.startswith(p + "\\") for p in _PROTECTED):
            raise access_denied(path)

    def is_file(self, path: str) -> bool:
        try:
            return self._native(path).is_file()
        except WindowsIOError:
            return False

    def is_dir(self, path: str) -> bool:
        try:
            return self._native(path).is_dir()
        except WindowsIOError:
            return False

    def exists(self, path: str) -> bool:
        return self.is_file(path) or self.is_dir(path)

    def windows_path(self, native: Path) -> str:
        relative = native.relative_to(self.root / "C")
        return "C:\\" + "\\".join(relative.parts)

    # --- files ---------------------------------------------------------------------

    def open_read(self, path: str) -> SimFile:
        native = self._native(path)
        if native.is_dir():
            raise access_denied(path)
        if not native.parent.is_dir():
            raise part_not_found(path)
        if not native.is_file():
            raise file_not_found(path)
        return SimFile(self, native.open("rb"), path, writable=False)

    def open_write(self, path: str, *, create_new: bool) -> SimFile:
        native = self._native(path)
        if not native.parent.is_dir():
            raise part_not_found(path)
        self._writable(path)
        if native.is_dir():
            raise access_denied(path)
        if native.exists():
            if create_new:
                raise already_exists(path)
            self.used -= native.stat().st_size
        return SimFile(self, native.open("wb"), path, writable=True)

    def delete(self, path: str) -> None:
        native = self._native(path)
        if not native.exists():
            raise file_not_found(path) if native.parent.is_dir() else part_not_found(path)
        self._writable(path)
        if native.is_dir():
            self.used -= sum(f.stat().st_size for f in native.rglob("*") if f.is_file())
            shutil.rmtree(native)
        else:
            self.used -= native.stat().st_size
            native.unlink()

    def move(self, source: str, destination: str) -> None:
        """[IO.File]::Move: fails when the destination exists."""
        src, dst = self._native(source), self._native(destination)
        if not src.is_file():
            raise file_not_found(source)
        self._writable(source)
        self._writable(destination)
        if not dst.parent.is_dir():
            raise part_not_found(destination)
        if dst.exists():
            raise WindowsIOError(
                "System.IO.IOException",
                "Cannot create a file when that file already exists.\r\n",
                E_ALREADY_EXISTS,
                destination,
            )
        src.rename(dst)

    def make_dirs(self, path: str) -> str:
        native = self._native(path)
        if native.is_file():
            raise already_exists(path)
        if not native.is_dir():
            self._writable(path)
            native.mkdir(parents=True)
        return self.windows_path(native)

    def entries(self, path: str, *, recurse: bool) -> Iterator[Entry]:
        native = self._native(path)
        if not native.is_dir():
            raise part_not_found(path)
        walk = sorted(native.rglob("*") if recurse else native.iterdir())
        for item in walk:
            stat = item.stat()
            yield Entry(
                self.windows_path(item),
                item.is_dir(),
                0 if item.is_dir() else stat.st_size,
                stat.st_mtime,
            )

    def sha256(self, path: str) -> str:
        """Get-FileHash: read in blocks, counted as read bytes."""
        hasher = hashlib.sha256()
        with self.open_read(path) as stream:
            while block := stream.read(_HASH_BLOCK):
                hasher.update(block)
        return hasher.hexdigest().upper()

    def charge(self, path: str, size: int) -> None:
        if self.quota is not None and self.used + size > self.quota:
            raise disk_full(path)
        self.used += size
        self._count(size, 0)

    def counted_read(self, size: int) -> None:
        self._count(0, size)


class SimFile:
    """A FileStream on the simulated disk."""

    def __init__(self, files: HostFiles, stream: BinaryIO, path: str, *, writable: bool) -> None:
        self._files = files
        self._stream = stream
        self.path = path
        self.writable = writable

    @property
    def closed(self) -> bool:
        return self._stream.closed

    @property
    def length(self) -> int:
        return os.fstat(self._stream.fileno()).st_size

    def write(self, data: bytes) -> None:
        self._files.charge(self.path, len(data))
        self._stream.write(data)

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        self._files.counted_read(len(data))
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> SimFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

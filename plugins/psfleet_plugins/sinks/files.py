"""File helpers of the output directory: safe names, atomic writes, spilling JSON arrays."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO

from psfleet.serialize import JsonValue, dumps

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
_MAX_NAME = 100


def safe_name(host: str) -> str:
    """A directory name for `host` that every filesystem accepts.

    A name that had to change gets a short hash of the original, so `a/b` and `a_b`
    never share a directory.
    """
    safe = _UNSAFE.sub("_", host)[:_MAX_NAME].strip(".") or "_"
    if safe.split(".")[0].lower() in _RESERVED:
        safe = "_" + safe
    if safe == host:
        return safe
    digest = hashlib.blake2b(host.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return f"{safe}-{digest}"


class JsonArrayBuffer:
    """A JSON array built item by item, in memory up to `spill_bytes`, then in a temp file."""

    def __init__(self, spill_bytes: int, spill_dir: Path | None) -> None:
        self._spill_bytes = spill_bytes
        self._spill_dir = spill_dir
        self._items: list[str] = []
        self._size = 0
        self._file: IO[str] | None = None
        self._spilled = 0  # items already in the temp file

    def append(self, item: JsonValue) -> None:
        text = dumps(item)
        self._items.append(text)
        self._size += len(text)
        if self._size > self._spill_bytes:
            self._spill()

    def write_to(self, out: IO[str]) -> None:
        out.write("[")
        first = True
        if self._file is not None:
            self._file.seek(0)
            shutil.copyfileobj(self._file, out)
            first = False
        for text in self._items:
            out.write("\n" if first else ",\n")
            out.write(text)
            first = False
        out.write("\n]\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # an unnamed temp file: closing it frees the disk space

    def _spill(self) -> None:
        if self._file is None:
            # Unnamed and owned by this buffer until close(): a context manager cannot span that.
            self._file = tempfile.TemporaryFile(  # noqa: SIM115
                "w+", encoding="utf-8", dir=self._spill_dir
            )
        separator = ",\n" if self._spilled else "\n"
        self._file.write(separator + ",\n".join(self._items))
        self._spilled += len(self._items)
        self._items.clear()
        self._size = 0


def atomic_write(path: Path, content: JsonArrayBuffer | JsonValue) -> None:
    """Write a file so readers see the old content or the new one, never a part of it."""
    # Not mkstemp: its 0600 mode would hide results from the team; os.open honours the umask.
    temp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if isinstance(content, JsonArrayBuffer):
                content.write_to(out)
            else:
                json.dump(content, out, indent=2, ensure_ascii=True, allow_nan=False)
                out.write("\n")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise

"""pypsrp 0.9.1's `Client.copy` and `Client.fetch` on the wire, run by pypsrp itself.

simfleet cannot run pypsrp's own copy.ps1 and fetch.ps1: they define advanced functions
(`[Parameter(...)]` attributes), pipe objects into them, use `-=`, `$MyInvocation`,
`$ExecutionContext.SessionState.Path`, `[System.IO.Path]::GetTempFileName`, SHA1,
`System.IO.FileInfo`, and reflect on `$Host`'s private transport to lift the input size
limit: a PowerShell that large is not a faithful addition to simfleet's subset. So this
is a model, driven by pypsrp's RunspacePool and PowerShell (its fragmenter, its Sends,
its threads), that keeps what decides the cost:

- push: as `Client.copy`, one file read per host, chunks of
  `(max_payload_size - 82) / 4 * 3` bytes, each base64-encoded into one pipeline input
  (one Send each, where PSRP base64-encodes the fragment again: double base64), hashed
  while read; the host decodes, hashes and writes each chunk (psfleet's push.ps1, which
  does what copy.ps1's process block does, with SHA-256 in place of SHA-1).
- pull: as `Client.fetch`, the host reads the whole file into one byte array and writes
  it as one base64 string, and the client decodes that string whole (psfleet's pull.ps1
  with its chunk as large as the file: one `ToBase64String` of everything, as fetch.ps1).
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from psfleet.transfer.scripts import script

_PSRP_OVERHEAD = 82  # what pypsrp's copy subtracts for the fragment and message headers


def chunk_size(wsman: WSMan) -> int:
    """pypsrp's copy: the bytes whose base64 fills one Send."""
    return int((wsman.max_payload_size - _PSRP_OVERHEAD) / 4 * 3)


def _chunks(src: Path, size: int, hasher: Any) -> Iterator[list[str]]:
    with src.open("rb") as file:
        for data in iter(lambda: file.read(size), b""):
            hasher.update(data)  # copy's SHA-1 of what it sends, checked by the host
            yield [base64.b64encode(data).decode()]


def push(wsman: WSMan, src: Path, dest: str) -> bool:
    with RunspacePool(wsman) as pool:
        sha256 = hashlib.sha256()  # push.ps1 wants the hash first; copy.ps1 gets it last
        with src.open("rb") as file:
            for data in iter(lambda: file.read(1 << 20), b""):
                sha256.update(data)
        shell = PowerShell(pool)
        shell.add_script(script("push"))
        temporary = f"{dest}.pypsrp"
        shell.add_parameters(
            {"Path": dest, "TempPath": temporary, "Sha256": sha256.hexdigest().upper()}
        )
        shell.invoke(input=_chunks(src, chunk_size(wsman), hashlib.sha1()))
        if shell.had_errors:
            raise RuntimeError(f"push failed: {[str(e) for e in shell.streams.error][:1]}")
        return True


def pull(wsman: WSMan, src: str, dest: Path, size: int) -> bool:
    with RunspacePool(wsman) as pool:
        shell = PowerShell(pool)
        shell.add_script(script("pull"))
        shell.add_parameters({"Path": src, "ChunkSize": max(size, 1)})
        output = shell.invoke()
        if shell.had_errors or len(output) < 2:
            raise RuntimeError(f"pull failed: {[str(e) for e in shell.streams.error][:1]}")
        data = base64.b64decode(output[1]) if size else b""  # the whole file, decoded whole
        expected = str(output[-1].extended_properties.get("Sha256", ""))
        dest.parent.mkdir(parents=True, exist_ok=True)
        temporary = dest.with_suffix(".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, dest)
        return hashlib.sha256(data).hexdigest().upper() == expected

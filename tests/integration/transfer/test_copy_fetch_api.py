"""psfleet.acopy, afetch and Fleet.copy against simfleet: results, errors, what is left on disk."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

import psfleet
from psfleet.errors import UsageError
from psfleet.events import Event, HostStatus, TransferProgress
from psfleet.fanout.api import RunControl
from psfleet.simfleet import SimFleet
from tests.integration.transfer.conftest import settings, targets

pytestmark = pytest.mark.anyio

DEST = "C:\\ProgramData\\app\\payload.bin"


def _write(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest().upper()


async def _remote(fleet: SimFleet, script: str) -> dict[str, list[Any]]:
    result = await psfleet.arun(targets(fleet), script, **settings())
    return {h.host: h.output for h in result}


async def _files_in(fleet: SimFleet, folder: str) -> dict[str, list[Any]]:
    return await _remote(fleet, f"[System.IO.Directory]::GetFiles('{folder}')")


async def test_copy_then_fetch_round_trip_and_an_unchanged_copy_sends_nothing(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=3)
    src = tmp_path / "payload.bin"
    sha = _write(src, 700_000)
    await _remote(fleet, "[System.IO.Directory]::CreateDirectory('C:\\ProgramData\\app')")

    first = await psfleet.acopy(targets(fleet), src, DEST, **settings())
    assert [(h.status, h.bytes, h.sha256, h.changed) for h in first] == [
        (HostStatus.OK, 700_000, sha, True)
    ] * 3
    written = fleet.stats()["file_bytes_written"]
    assert written == 3 * 700_000

    again = await psfleet.acopy(targets(fleet), src, DEST, **settings())
    assert [(h.status, h.bytes, h.changed) for h in again] == [(HostStatus.OK, 0, False)] * 3
    assert fleet.stats()["file_bytes_written"] == written

    forced = await psfleet.acopy(targets(fleet), src, DEST, force=True, **settings())
    assert [h.changed for h in forced] == [True] * 3
    assert fleet.stats()["file_bytes_written"] == 2 * written

    hashes = await _remote(fleet, f"(Get-FileHash {DEST} -Algorithm SHA256).Hash")
    assert hashes == {h.name: [sha] for h in fleet.hosts}

    back = await psfleet.afetch(targets(fleet), DEST, tmp_path / "back", **settings())
    assert all(h.ok and h.sha256 == sha for h in back), [h.error_message for h in back]
    for host in fleet.hosts:
        assert (tmp_path / "back" / host.name / "payload.bin").read_bytes() == src.read_bytes()
    assert list((tmp_path / "back").rglob("*.psfleet-tmp")) == []


async def test_a_full_disk_fails_the_host_with_its_remedy_and_leaves_no_temporary_file(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=2, disk_quota=1_000_000)
    src = tmp_path / "big.bin"
    _write(src, 1_500_000)
    result = await psfleet.acopy(targets(fleet), src, "C:\\Windows\\Temp\\big.bin", **settings())
    for host in result:
        assert host.status is HostStatus.FAILED
        assert host.error_type == "DiskFull"
        assert host.remedy and "free space" in host.remedy
    assert await _files_in(fleet, "C:\\Windows\\Temp") == {h.name: [] for h in fleet.hosts}


async def test_a_protected_folder_is_access_denied_and_other_hosts_go_on(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=2)
    src = tmp_path / "tool.exe"
    _write(src, 10_000)
    denied = await psfleet.acopy(
        targets(fleet), src, "C:\\Windows\\System32\\tool.exe", **settings()
    )
    assert {h.error_type for h in denied} == {"RemoteAccessDenied"}
    assert all("denied" in str(h.error_message) for h in denied)
    missing = await psfleet.acopy(targets(fleet), src, "D:\\tools\\tool.exe", **settings())
    assert {h.error_type for h in missing} == {"RemotePathNotFound"}
    fetched = await psfleet.afetch(targets(fleet), "C:\\nowhere.log", tmp_path, **settings())
    assert {h.error_type for h in fetched} == {"RemotePathNotFound"}


async def test_bad_input_is_a_usage_error_before_anything_runs(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=1)
    before = fleet.stats()["commands_run"]
    with pytest.raises(UsageError, match="no such file"):
        await psfleet.acopy(targets(fleet), tmp_path / "absent", DEST, **settings())
    with pytest.raises(UsageError, match="--recurse"):
        await psfleet.acopy(targets(fleet), tmp_path, DEST, **settings())
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="cannot create"):
        await psfleet.afetch(targets(fleet), DEST, a_file / "sub", **settings())
    assert fleet.stats()["commands_run"] == before


async def test_an_interrupted_copy_leaves_the_destination_as_it_was_and_no_temporary_file(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=2, rtt_ms=20)
    old, new = tmp_path / "v1.bin", tmp_path / "v2.bin"
    old_sha = _write(old, 1000)
    _write(new, 6_000_000)  # ~70 Sends of 20 ms: the interrupt lands mid-file
    dest = "C:\\Windows\\Temp\\app.bin"
    assert (await psfleet.acopy(targets(fleet), old, dest, **settings())).ok
    control = RunControl()

    class InterruptMidFile:
        async def handle(self, event: Event) -> None:
            if isinstance(event, TransferProgress) and 0 < event.done < event.total:
                control.interrupt()

    result = await psfleet.acopy(
        targets(fleet), new, dest, sinks=[InterruptMidFile()], control=control, **settings()
    )
    assert result.interrupted
    assert {h.status for h in result} == {HostStatus.CANCELLED}
    hashes = await _remote(fleet, f"(Get-FileHash {dest} -Algorithm SHA256).Hash")
    assert hashes == {h.name: [old_sha] for h in fleet.hosts}
    assert await _files_in(fleet, "C:\\Windows\\Temp") == {h.name: [dest] for h in fleet.hosts}


async def test_a_tree_copies_and_fetches_back_with_recurse(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=2)
    tree = tmp_path / "site"
    (tree / "css").mkdir(parents=True)
    (tree / "img" / "icons").mkdir(parents=True)
    files = {
        "index.html": 1200,
        "css/site.css": 300,
        "img/logo.png": 90_000,
        "img/icons/a.ico": 0,
    }
    for name, size in files.items():
        _write(tree / name, size)
    async with psfleet.Fleet(targets(fleet), **settings()) as open_fleet:
        pushed = await open_fleet.copy(tree, "C:\\inetpub\\site", recurse=True)
        assert all(h.ok and h.bytes == sum(files.values()) for h in pushed), [
            h.error_message for h in pushed
        ]
        pulled = await open_fleet.fetch("C:\\inetpub\\site", tmp_path / "back", recurse=True)
        assert all(h.ok for h in pulled), [h.error_message for h in pulled]
    for host in fleet.hosts:
        for name in files:
            copy = tmp_path / "back" / host.name / "site" / name
            assert copy.read_bytes() == (tree / name).read_bytes(), copy

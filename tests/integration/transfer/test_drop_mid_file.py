"""A connection cut in the middle of a file's Sends (a proxy on 127.29.2.x in front of
simfleet): DEST stays as it was, and no temporary file outlives the copy, or the next one."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus
from psfleet.fanout.result import FleetResult
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from tests.integration.transfer.conftest import settings, targets
from tests.support.corrupting_proxy import CorruptingProxy, Corruption, Mutation

pytestmark = pytest.mark.anyio

DEST = "C:\\Windows\\Temp\\app.bin"
NEW_SIZE = 3_000_000  # 36 Sends of ~84 kB: answer 20 to the client is one of them
CUT_AT = 20


def _write(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest().upper()


async def _remote(fleet: SimFleet, script: str) -> list[Any]:
    result = await psfleet.arun(targets(fleet), script, **settings())
    return [item for host in result for item in host.output]


async def _copy_through_cut(
    fleet: SimFleet, src: Path, proxy_address: str, *, then_unreachable: bool
) -> FleetResult:
    host = fleet.hosts[0]
    plan = Corruption(Mutation.CUT, answer=CUT_AT, then_unreachable=then_unreachable)
    routes = {proxy_address: (host.address, host.port)}
    async with CorruptingProxy(routes, {proxy_address: plan}, port=host.port) as proxy:
        result = await psfleet.acopy(
            [Target(host.name, proxy_address, host.port)], src, DEST, **settings()
        )
        assert proxy.answers(proxy_address)[CUT_AT - 1].corrupted is Mutation.CUT
    return result


async def test_a_cut_mid_file_is_cleaned_up_by_the_client_when_the_host_still_answers(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=1)
    old, new = tmp_path / "v1.bin", tmp_path / "v2.bin"
    old_sha = _write(old, 1000)
    _write(new, NEW_SIZE)
    assert (await psfleet.acopy(targets(fleet), old, DEST, **settings())).ok
    before = fleet.stats()["file_bytes_written"]

    result = await _copy_through_cut(fleet, new, "127.29.2.1", then_unreachable=False)

    assert [h.status for h in result] == [HostStatus.UNREACHABLE]
    assert 0 < fleet.stats()["file_bytes_written"] - before < NEW_SIZE  # cut mid-file
    assert await _remote(fleet, f"(Get-FileHash {DEST} -Algorithm SHA256).Hash") == [old_sha]
    assert await _remote(fleet, "[System.IO.Directory]::GetFiles('C:\\Windows\\Temp')") == [DEST]


async def test_a_temporary_file_the_host_could_not_clean_up_goes_with_the_next_copy(
    start_fleet: Any, tmp_path: Path
) -> None:
    fleet = await start_fleet(hosts=1)
    old, new = tmp_path / "v1.bin", tmp_path / "v2.bin"
    old_sha = _write(old, 1000)
    new_sha = _write(new, NEW_SIZE)
    assert (await psfleet.acopy(targets(fleet), old, DEST, **settings())).ok
    before = fleet.stats()["file_bytes_written"]

    # After the cut nothing gets through: the client cannot run its cleanup.
    result = await _copy_through_cut(fleet, new, "127.29.2.2", then_unreachable=True)

    assert [h.status for h in result] == [HostStatus.UNREACHABLE]
    assert 0 < fleet.stats()["file_bytes_written"] - before < NEW_SIZE
    assert await _remote(fleet, f"(Get-FileHash {DEST} -Algorithm SHA256).Hash") == [old_sha]
    left = await _remote(fleet, "[System.IO.Directory]::GetFiles('C:\\Windows\\Temp')")
    assert sorted(left)[0] == DEST and len(left) == 2 and left[1].endswith(".psfleet-tmp")

    # The next copy to that DEST (here an unchanged one: nothing sent) removes it.
    again = await psfleet.acopy(targets(fleet), old, DEST, **settings())
    assert [(h.status, h.changed) for h in again] == [(HostStatus.OK, False)]
    assert await _remote(fleet, "[System.IO.Directory]::GetFiles('C:\\Windows\\Temp')") == [DEST]
    assert (await psfleet.acopy(targets(fleet), new, DEST, **settings())).ok
    assert await _remote(fleet, f"(Get-FileHash {DEST} -Algorithm SHA256).Hash") == [new_sha]

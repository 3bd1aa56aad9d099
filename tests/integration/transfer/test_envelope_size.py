"""A push fills each Send to the MaxEnvelopeSizekb the host's winrm/config gives."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

import psfleet
from psfleet.events import HostStatus
from psfleet.simfleet import SimFleet
from psfleet.simfleet.config import Quotas
from psfleet.transfer.chunks import chunk_size_for
from psfleet.transfer.envelope_size import read_max_envelope_size
from tests.integration.transfer.conftest import settings, targets

pytestmark = pytest.mark.anyio

DEST = "C:\\Windows\\Temp\\payload.bin"
PAYLOAD = 1_200_000


async def _requests(fleet: SimFleet, src: Path) -> int:
    """Requests the host answered for one push of `src` (faults included)."""
    before = fleet.stats()["requests"]
    result = await psfleet.acopy(targets(fleet), src, DEST, **settings())
    assert [h.status for h in result] == [HostStatus.OK], [h.error_message for h in result]
    return int(fleet.stats()["requests"] - before)


async def test_sends_follow_the_host_envelope_size_smaller_or_larger_than_the_default(
    start_fleet: Any, tmp_path: Path
) -> None:
    tiny, src = tmp_path / "tiny.bin", tmp_path / "payload.bin"
    tiny.write_bytes(b"x")
    src.write_bytes(os.urandom(PAYLOAD))
    for kb in (64, 150, 500):
        fleet = await start_fleet(hosts=1, quotas=Quotas(max_envelope_size=kb * 1024))
        # A one-Send push counts the requests around the Sends (open, probe, receives).
        around = await _requests(fleet, tiny) - 1
        sends = await _requests(fleet, src) - around
        # 150 KB Sends would be refused by the 64 KB host (w:EncodingLimit): it takes the
        # file only because the client asked the host first.
        assert fleet.stats()["faults"] == 0
        expected = math.ceil(PAYLOAD / chunk_size_for(kb * 1024))  # 35, 15 and 5 Sends
        assert expected <= sends <= expected + 2, (kb, sends, expected)


async def test_the_config_get_answers_max_envelope_size_kb(start_fleet: Any) -> None:
    fleet = await start_fleet(hosts=1, quotas=Quotas(max_envelope_size=300 * 1024))
    host = fleet.hosts[0]
    only = {k: v for k, v in settings().items() if k not in ("retries", "timeouts")}
    async with psfleet.connect(host.name, address=host.address, port=host.port, **only) as pool:
        assert await read_max_envelope_size(pool) == 300 * 1024

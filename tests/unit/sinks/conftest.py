"""Real runs for the sink tests: a SimFleet in this process and psfleet.arun."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

import psfleet
from psfleet.fanout.api import Sink
from psfleet.fanout.result import FleetResult
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.targets.model import Target

PASSWORD = "psfleet-demo"
CREDENTIAL = ("LAB\\admin", PASSWORD)
_subnets = itertools.count(140)

# Every stream, an object, a non-terminating error, then a terminating one.
EVERY_STREAM = r"""
Get-Service WinRM
[pscustomobject]@{Name='x'; Size=3}
Write-Warning 'disk almost full'
Write-Verbose 'checking' -Verbose
Write-Information 'note'
Write-Progress -Activity scan -Status half -PercentComplete 50
Write-Error 'bad thing'
Get-Date
throw 'boom'
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def run_fleet(
    sinks: Sequence[Sink],
    script: str | Sequence[str] = EVERY_STREAM,
    *,
    hosts: int = 3,
    credential: Any = CREDENTIAL,
    **settings: Any,
) -> FleetResult:
    base = f"127.1.{next(_subnets)}.1"
    async with SimFleet(SimConfig(hosts=hosts, base_address=base, port=0)) as fleet:
        targets = [Target(h.name, h.address, h.port) for h in fleet.hosts]
        return await psfleet.arun(
            targets, script, sinks=sinks, auth="ntlm", credential=credential, **settings
        )

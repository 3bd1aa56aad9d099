"""A pool left running on the host (Disconnect), and another client coming back to it
(Connect): against simfleet over real sockets, on 127.27.2.x."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from psfleet import errors
from psfleet.client import (
    ClientOptions,
    Endpoint,
    client_options,
    open_pool,
    reconnect_pool,
    shared_broker,
)
from psfleet.session import PipelineState
from psfleet.session.wsman import WSManShell
from psfleet.simfleet import SimFleet
from tests.support.fleets import fleet_starter

from .conftest import PASSWORD, USER

pytestmark = pytest.mark.anyio

_subnets = itertools.count(1)
# Output comes while nobody is connected: the second half after the Disconnect.
SLOW = "1..6 | ForEach-Object { Start-Sleep -Milliseconds 150; \"line $_\" }; 'end'"


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    addresses = (f"127.27.2.{n}" for n in _subnets)
    async with fleet_starter(addresses, hosts=1, port=0, idle_timeout_s=1.0) as start:
        yield await start()


def endpoint(fleet: SimFleet) -> Endpoint:
    host = fleet.hosts[0]
    return Endpoint(host.name, address=host.address, port=host.port)


@pytest.fixture
def options() -> Iterator[ClientOptions]:
    """Both clients of a test in one process: one credential broker, as one run has."""
    with shared_broker(client_options(auth="ntlm", credential=(USER, PASSWORD))) as brokered:
        yield brokered


async def start_and_disconnect(
    fleet: SimFleet, options: ClientOptions, idle_timeout_s: float | None
) -> tuple[Any, Any]:
    """A pipeline started, its first record read, then the pool disconnected."""
    pool = await open_pool(endpoint(fleet), options)
    pipeline = pool.pipeline(SLOW)
    first = await pipeline.__anext__()
    assert first.data == "line 1"
    await pool.disconnect(idle_timeout_s)
    return pool.id, pipeline.id


async def test_another_client_connects_and_gets_every_record_after_the_disconnect(
    fleet: SimFleet,
    options: ClientOptions,
) -> None:
    pool_id, pipeline_id = await start_and_disconnect(fleet, options, idle_timeout_s=60)
    assert fleet.stats()["shells_open"] == 1  # left running on the host
    pool = await reconnect_pool(endpoint(fleet), options, pool_id)
    try:
        result = await pool.attach(pipeline_id).result()
    finally:
        await pool.aclose()
    assert result.output == [f"line {n}" for n in range(2, 7)] + ["end"]
    assert result.state is PipelineState.COMPLETED
    assert fleet.stats()["shells_open"] == 0


async def test_a_disconnected_pool_refuses_polls_until_connected(
    fleet: SimFleet, options: ClientOptions
) -> None:
    pool_id, pipeline_id = await start_and_disconnect(fleet, options, idle_timeout_s=60)
    stranger = await open_pool(endpoint(fleet), options)
    try:
        theirs = WSManShell(stranger.transport, stranger.shell.resource_uri)
        theirs.attach(str(pool_id).upper())
        with pytest.raises(errors.ShellNotFound, match="disconnected"):
            await theirs.receive("stdout", str(pipeline_id).upper())
    finally:
        await stranger.aclose()
    pool = await reconnect_pool(endpoint(fleet), options, pool_id)
    await pool.aclose()
    assert fleet.stats()["shells_open"] == 0


async def test_a_pool_past_its_idle_timeout_is_gone_and_connect_says_so(
    fleet: SimFleet, options: ClientOptions
) -> None:
    pool_id, _ = await start_and_disconnect(fleet, options, idle_timeout_s=0.5)
    for _ in range(300):  # the host's sweep deletes it within 1.5 x its IdleTimeOut
        if not fleet.stats()["shells_open"]:
            break
        await anyio.sleep(0.1)
    assert fleet.stats()["shells_open"] == 0
    with pytest.raises(errors.ShellNotFound):
        await reconnect_pool(endpoint(fleet), options, pool_id)


async def test_more_output_than_the_hosts_buffer_is_all_received_after_connect(
    fleet: SimFleet,
    options: ClientOptions,
) -> None:
    # 3 MiB of output, 1 MiB buffered: the pipeline pauses until a client receives (Block).
    pool = await open_pool(endpoint(fleet), options)
    pipeline = pool.pipeline("1..3000 | ForEach-Object { \"$_ \" + ('x' * 1024) }")
    await pipeline.start()
    await pool.disconnect(60)
    await anyio.sleep(1)  # let it fill the buffer while nobody is connected
    pool = await reconnect_pool(endpoint(fleet), options, pool.id)
    try:
        result = await pool.attach(pipeline.id).result()
    finally:
        await pool.aclose()
    assert [line.split()[0] for line in result.output] == [str(n) for n in range(1, 3001)]
    assert fleet.stats()["shells_open"] == 0

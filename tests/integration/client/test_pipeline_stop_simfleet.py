"""Stopping a pipeline early: Signal, then Receive to its end, against simfleet over sockets."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from psfleet.client import connect
from psfleet.simfleet import Quotas, SimFleet
from tests.support.fleets import StartFleet, fleet_starter

from .conftest import PASSWORD, USER

pytestmark = pytest.mark.anyio
_subnets = itertools.count(1)


@pytest.fixture
async def start() -> AsyncIterator[StartFleet]:
    addresses = (f"127.24.{n}.1" for n in _subnets)
    async with fleet_starter(addresses, hosts=1, port=0) as starter:
        yield starter


def on(fleet: SimFleet, **settings: Any) -> Any:
    host = fleet.hosts[0]
    return connect(
        host.name,
        address=host.address,
        port=host.port,
        auth="ntlm",
        credential=(USER, PASSWORD),
        **settings,
    )


def _stop_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """psfleet's loggers write to stdlib logging (structlog's capture_logs never sees them)."""
    return [r for r in caplog.records if "pipeline stop failed" in str(r.msg)]


async def test_a_pipeline_cancelled_before_its_command_answer_is_still_stopped(
    start: StartFleet,
) -> None:
    # One process per shell: a second pipeline gets a quota fault while the first one runs.
    fleet = await start(rtt_ms=400, quotas=Quotas(max_processes_per_shell=1))
    async with on(fleet) as pool:
        commands_before = fleet.stats()["commands_run"]
        # The Command is out at once; its answer takes the 400 ms RTT: cancelled waiting.
        with anyio.move_on_after(0.2):
            await pool.invoke("Start-Sleep 30; 'never'")
        assert fleet.stats()["commands_run"] == commands_before + 1
        assert (await pool.invoke("'after'")).output == ["after"]
    assert fleet.stats()["shells_open"] == 0


async def test_leaving_a_finished_pipeline_early_receives_its_end_without_a_fault(
    start: StartFleet, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = await start()
    async with on(fleet) as pool:
        # The host finishes at once; its output takes several Receives to come back.
        stream = pool.stream("1..3 | ForEach-Object { 'z' * 200000 }")
        async for _ in stream:
            break
        await stream.aclose()
        faults_after_stop = fleet.stats()["faults"]
        assert (await pool.invoke("'after'")).output == ["after"]
    assert _stop_failures(caplog) == []
    assert faults_after_stop == 0  # no "command not found" answered to a Receive
    assert fleet.stats()["shells_open"] == 0


async def test_stopping_a_running_pipeline_ends_it_as_stopped(
    start: StartFleet, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = await start()
    async with on(fleet) as pool:
        stream = pool.stream("'first'; Start-Sleep 30; 'never'")
        async for record in stream:
            assert record.data == "first"
            break
        with anyio.fail_after(5):
            await stream.aclose()
        assert stream.state is not None and stream.state.name == "STOPPED"
        assert (await pool.invoke("'after'")).output == ["after"]
    assert _stop_failures(caplog) == []
    assert fleet.stats()["shells_open"] == 0


async def test_a_cmd_shell_whose_create_answer_was_lost_is_deleted_by_its_id(
    start: StartFleet,
) -> None:
    fleet = await start(rtt_ms=400)
    async with on(fleet) as pool:
        # The Create is out at once; its answer takes the 400 ms RTT: cancelled waiting.
        with anyio.move_on_after(0.2):
            await pool.run_cmd("ipconfig")
        # Sent after the Create, so answered after the host acted on it all the same.
        assert (await pool.invoke("'after'")).output == ["after"]
        assert fleet.stats()["shells_opened"] == 2  # the pool's, and the cmd shell
        assert fleet.stats()["shells_open"] == 1  # the cmd shell was deleted by its ShellId
    assert fleet.stats()["shells_open"] == 0

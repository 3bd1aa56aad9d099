"""psfleet.connect() against simfleet: every auth, every stream, big data, cancellation, faults.

After each test the fleet's /stats must show no shell left open.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from psfleet import errors
from psfleet.client import connect
from psfleet.events import Stream
from psfleet.session import PipelineState, PSObjectView
from psfleet.simfleet import Quotas, SimFleet
from psfleet.transport import Timeouts

from .conftest import PASSWORD, USER, FleetFactory

pytestmark = pytest.mark.anyio

ALL_STREAMS = """
$VerbosePreference = 'Continue'; $DebugPreference = 'Continue'
Write-Output 'out'
Write-Error 'bad thing'
Write-Warning 'careful'
Write-Verbose 'chatty'
Write-Debug 'details'
Write-Information 'fyi'
Write-Progress -Activity 'Working' -Status 'half' -PercentComplete 50
$env:COMPUTERNAME
"""


def on(fleet: SimFleet, index: int = 0, **settings: Any) -> Any:
    host = fleet.hosts[index]
    settings.setdefault("auth", "ntlm")
    settings.setdefault("credential", (USER, PASSWORD))
    return connect(host.name, address=host.address, port=host.port, **settings)


def assert_nothing_open(fleet: SimFleet) -> None:
    assert fleet.stats()["shells_open"] == 0


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "credssp"])
async def test_encrypted_http_auth_and_every_stream(fleet: SimFleet, auth: str) -> None:
    async with on(fleet, auth=auth, delegate_to=[fleet.hosts[0].name]) as pool:
        result = await pool.invoke(ALL_STREAMS)
    assert result.output == ["out", "NODE01"]
    assert [e.message for e in result.errors] == ["bad thing"]
    assert [w.message for w in result.warnings] == ["careful"]
    assert [v.message for v in result.verbose] == ["chatty"]
    assert [d.message for d in result.debug] == ["details"]
    assert [i.message_data for i in result.information] == ["fyi"]
    assert [(p.activity, p.percent_complete) for p in result.progress] == [("Working", 50)]
    assert result.state is PipelineState.COMPLETED and result.had_errors
    assert {r.host for r in result.records()} == {"node01"}
    assert_nothing_open(fleet)


async def test_basic_over_https_verifies_the_certificate(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(tls=True)
    async with on(fleet, auth="basic", tls=True, ca_file=fleet.ca_file) as pool:
        result = await pool.invoke("$env:COMPUTERNAME")
    assert result.output == ["NODE01"]
    assert_nothing_open(fleet)


async def test_https_without_the_ca_is_a_tls_error(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(tls=True)
    with pytest.raises(errors.TLSError) as raised:
        async with on(fleet, auth="basic", tls=True):
            pass
    assert not raised.value.retryable
    assert PASSWORD not in repr(raised.value)


async def test_https_name_mismatch_is_a_tls_error(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(tls=True)
    host = fleet.hosts[0]
    with pytest.raises(errors.TLSError):
        async with connect(
            "not-this-host.lab.test",
            address=host.address,
            port=host.port,
            tls=True,
            auth="basic",
            credential=(USER, PASSWORD),
            ca_file=fleet.ca_file,
        ):
            pass


async def test_insecure_skip_tls_verify_is_explicit(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(tls=True)
    async with on(fleet, auth="ntlm", tls=True, insecure_skip_tls_verify=True) as pool:
        assert (await pool.invoke("1 + 1")).output == [2]


async def test_wrong_password_is_an_auth_error_without_secrets(fleet: SimFleet) -> None:
    with pytest.raises(errors.AuthError) as raised:
        async with on(fleet, credential=(USER, "Wrong-Passw0rd")):
            pass
    assert "Wrong-Passw0rd" not in repr(raised.value) + str(raised.value)
    assert fleet.stats()["auth_failures"] >= 1
    assert_nothing_open(fleet)


async def test_large_output_and_input_are_fragmented_both_ways(fleet: SimFleet) -> None:
    lines = [f"line {i:06d} " + "x" * 100 for i in range(6000)]  # ~700 KB of input
    async with on(fleet) as pool:
        echoed = await pool.invoke("process { $input }", input=lines)
        big = await pool.invoke("'y' * 400000")
    assert echoed.output == lines
    assert big.output == ["y" * 400000]
    assert_nothing_open(fleet)


async def test_streaming_yields_records_as_they_arrive(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        seen = [(r.stream, r.data) async for r in pool.stream("1; Write-Warning 'w'; 2")]
    assert seen[0] == (Stream.OUTPUT, 1)
    assert [d for s, d in seen if s is Stream.OUTPUT] == [1, 2]
    assert [str(d) for s, d in seen if s is Stream.WARNING] == ["w"]


async def test_objects_come_back_as_views(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        (service,) = (await pool.invoke("Get-Service WinRM")).output
    assert isinstance(service, PSObjectView)
    assert service.type_name == "System.ServiceProcess.ServiceController"
    assert service["name"] == "WinRM"
    assert str(service["status"]) in ("Running", "4")


async def test_pipelines_run_concurrently_up_to_max_runspaces(fleet: SimFleet) -> None:
    async with on(fleet, max_runspaces=3) as pool:
        started = time.monotonic()
        results: list[Any] = []
        async with anyio.create_task_group() as group:
            for i in range(3):

                async def run(i: int = i) -> None:
                    results.append(await pool.invoke(f"Start-Sleep -Milliseconds 500; {i}"))

                group.start_soon(run)
        elapsed = time.monotonic() - started
    assert sorted(r.output[0] for r in results) == [0, 1, 2]
    assert elapsed < 1.4, f"three 0.5 s pipelines took {elapsed:.2f}s"
    assert_nothing_open(fleet)


async def test_cancelling_an_invoke_stops_the_pipeline_and_keeps_the_pool(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        started = time.monotonic()
        with anyio.move_on_after(0.5):
            await pool.invoke("Start-Sleep 30; 'never'")
        assert time.monotonic() - started < 5
        # The runspace is free again: the next pipeline runs at once.
        assert (await pool.invoke("'after'")).output == ["after"]
    assert_nothing_open(fleet)


async def test_cancelling_the_whole_connection_deletes_the_shell(fleet: SimFleet) -> None:
    with anyio.move_on_after(0.5):
        async with on(fleet) as pool:
            await pool.invoke("Start-Sleep 30")
    assert_nothing_open(fleet)


async def test_receive_long_poll_timeout_is_polled_again(fleet: SimFleet) -> None:
    timeouts = Timeouts(operation=0.5)
    async with on(fleet, timeouts=timeouts) as pool:
        result = await pool.invoke("Start-Sleep -Milliseconds 1600; 'done'")
    assert result.output == ["done"]
    assert fleet.stats()["faults"] >= 2  # the OperationTimeout faults answered to the long polls


async def test_shell_quota_is_a_retryable_quota_error(fleet_factory: FleetFactory) -> None:
    fleet = await fleet_factory(quotas=Quotas(max_shells_per_user=2))
    async with on(fleet), on(fleet):
        with pytest.raises(errors.QuotaExceeded) as raised:
            async with on(fleet):
                pass
        assert raised.value.retryable
        assert fleet.stats()["shells_open"] == 2
    assert_nothing_open(fleet)


async def test_run_cmd_returns_stdout_stderr_and_exit_code(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        result = await pool.run_cmd("ipconfig")
    assert b"Windows IP Configuration" in result.stdout
    assert result.exit_code == 0
    assert_nothing_open(fleet)


async def test_terminating_error_raises_remote_script_error(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        result = await pool.invoke("throw 'boom'")
    assert result.state is PipelineState.FAILED
    with pytest.raises(errors.RemoteScriptError, match="boom"):
        result.raise_for_state()


async def test_idle_connection_is_authenticated_again(fleet: SimFleet) -> None:
    async with on(fleet, timeouts=Timeouts(idle=0.3)) as pool:
        assert (await pool.invoke("1")).output == [1]
        await anyio.sleep(0.6)  # aiohttp closes the idle connection
        assert (await pool.invoke("2")).output == [2]
    assert fleet.stats()["auth_failures"] == 0
    assert_nothing_open(fleet)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("refuse", errors.ConnectError),
        ("blackhole", errors.OperationTimeout),
        ("authfail", errors.AuthError),
        ("http500", errors.HTTPStatusError),
        ("drop", errors.ConnectError),
    ],
)
async def test_injected_faults_give_typed_errors_in_time(
    fleet_factory: FleetFactory, fault: str, error: type[errors.PsfleetError]
) -> None:
    fleet = await fleet_factory(faults=f"{fault}:node01")
    timeouts = Timeouts(connect=1, request=1, operation=1, close=1)
    started = time.monotonic()
    with pytest.raises(error):
        async with on(fleet, timeouts=timeouts) as pool:
            await pool.invoke("1..3")
    assert time.monotonic() - started < 5
    assert_nothing_open(fleet)

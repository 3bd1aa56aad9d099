"""The client decodes exactly what Windows Server 2016 produced, for every recorded exchange.

Each test replays one capture (tests/captures/windows-2016) to the real client over a
socket, runs the operation the capture shows, and checks the decoded result and that
the client made exactly the recorded requests (so the pool was deleted: nothing leaks).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import datetime

import pytest

from psfleet import errors
from psfleet.client import connect
from psfleet.session import CmdResult, PipelineState, PSObjectView, RunspacePool, SecureString
from psfleet.session.winrs import run_cmd
from psfleet.transport import AuthOptions, Credential, Endpoint, HostTransport
from psfleet.wsman import names
from tests.support.captures import capture_names
from tests.support.replay import ReplayServer

pytestmark = pytest.mark.anyio

OPEN = ["Create", "Receive", "Receive"]
REPLAYED: set[str] = set()


@asynccontextmanager
async def replayed_pool(capture: str, skip: Iterable[int] = ()) -> AsyncIterator[RunspacePool]:
    REPLAYED.add(capture)
    async with ReplayServer(capture, skip=skip) as server:
        async with connect(
            "127.0.0.1",
            port=server.port,
            auth="basic",
            credential=("user", "not-checked"),
            allow_basic_over_http=True,
        ) as pool:
            yield pool
        assert server.mismatches == []
        assert server.unplayed == []


async def replayed_cmd(capture: str, command: str, *args: str) -> tuple[CmdResult, list[str]]:
    REPLAYED.add(capture)
    async with ReplayServer(capture) as server:
        transport = HostTransport.alone(
            Endpoint("127.0.0.1", port=server.port),
            AuthOptions("basic", Credential("user", "x"), allow_basic_over_http=True),
        )
        try:
            result = await run_cmd(transport, command, args)
        finally:
            await transport.aclose()
        assert server.mismatches == []
        assert server.unplayed == []
        return result, server.actions


async def test_open_runspace_negotiates_version_and_envelope_size() -> None:
    async with replayed_pool("test_psrp_open_runspace") as pool:
        assert pool.state.name == "Opened"
        assert pool.protocol_version == "2.3"
        # PSRP 2.2+ hosts accept 500 KB envelopes; the capture's client adapted the same way.
        assert pool.shell.max_envelope_size == names.NEW_MAX_ENVELOPE_SIZE


async def test_every_stream_is_decoded() -> None:
    async with replayed_pool("test_psrp_stream_output_invocation") as pool:
        result = await pool.invoke("Write-Output 'output stream'")
    assert result.output == ["output stream"]
    assert [e.message for e in result.errors] == ["error stream"]
    error = result.errors[0]
    assert error.category == "NotSpecified"
    assert error.fully_qualified_error_id == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert error.category_info.startswith("NotSpecified: (:) [Write-Error]")
    assert error.exception_type == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert error.script_stack_trace == "at <ScriptBlock>, <No file>: line 5"
    assert [w.message for w in result.warnings] == ["warning stream"]
    assert [v.message for v in result.verbose] == ["verbose stream"]
    assert [d.message for d in result.debug] == ["debug stream"]
    (info,) = result.information
    assert info.message_data == "information stream"
    assert info.source == "Write-Information"
    assert isinstance(info.time_generated, datetime)
    assert result.state is PipelineState.COMPLETED
    assert result.had_errors
    assert {r.host for r in result.records()} == {"127.0.0.1"}


async def test_terminating_error_fails_the_pipeline_with_its_position() -> None:
    async with replayed_pool("test_psrp_error_failed") as pool:
        result = await pool.invoke("$ErrorActionPreference = 'Stop'; Write-Error error")
    assert result.output == ["before"]
    assert result.state is PipelineState.FAILED
    assert result.had_errors
    reason = result.reason
    assert reason is not None
    assert reason.message == "error"
    assert reason.line_number == 1
    assert reason.offset_in_line == 55
    assert reason.position_message is not None
    assert "Write-Error error" in reason.position_message
    with pytest.raises(errors.RemoteScriptError) as raised:
        result.raise_for_state()
    assert raised.value.error_id == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert not raised.value.retryable


async def test_unknown_command_is_a_failed_pipeline() -> None:
    async with replayed_pool("test_client_execute_ps_failure") as pool:
        result = await pool.invoke("Get-ServiceTypo -Name winrm")
    assert result.state is PipelineState.FAILED
    assert result.output == []
    reason = result.reason
    assert reason is not None
    assert reason.message.startswith("The term 'Get-ServiceTypo' is not recognized")
    assert reason.category == "ObjectNotFound"
    assert reason.target_name == "Get-ServiceTypo"
    assert reason.target_object == "Get-ServiceTypo"
    assert reason.exception_type == "System.Management.Automation.CommandNotFoundException"


async def test_pipeline_input_round_trips() -> None:
    async with replayed_pool("test_psrp_with_input") as pool:
        result = await pool.invoke("process { $input }", input=["1", 2, {"a": "b"}, ["a", "b"]])
    assert result.output == ["1", 2, {"a": "b"}, ["a", "b"]]
    assert [d.message for d in result.debug] == ["Start Block", "End Block"]
    assert [p.activity for p in result.progress] == ["Preparing modules for first use."]
    assert result.state is PipelineState.COMPLETED
    assert not result.had_errors


async def test_error_records_merged_into_output_stay_objects() -> None:
    async with replayed_pool("test_psrp_run_protocol_version_2.3") as pool:
        result = await pool.invoke("process { $input }", input=["message 1", 2, ["3", 3]])
    merged, *rest = result.output
    assert rest == ["message 1", 2, ["3", 3]]
    assert isinstance(merged, PSObjectView)
    assert merged.type_name == "System.Management.Automation.ErrorRecord"
    assert str(merged) == "error"
    assert merged["fullyqualifiederrorid"] == "Microsoft.PowerShell.Commands.WriteErrorException"


async def test_objects_keep_type_names_properties_and_to_string() -> None:
    # The capture exchanged a session key for a SecureString; the client needs none to read it.
    async with replayed_pool("test_psrp_multiple_commands", skip=(3, 4)) as pool:
        result = await pool.invoke("Get-Service winrm")
    text, secure, unicode, quote, user, number, service = result.output
    assert (text, quote, user, number) == ("Hello World", 'hi"', "win-nnmu24vvkj0\\vagrant", 123)
    assert unicode == "こんにちは - actual_x000A_string\nnewline: \U00010437"
    assert isinstance(secure, SecureString)
    assert "rTm4" not in repr(secure)
    assert isinstance(service, PSObjectView)
    # As PowerShell shows a deserialized object; type_name drops the prefix.
    assert service.type_names[0] == "Deserialized.System.ServiceProcess.ServiceController"
    assert service.type_name == "System.ServiceProcess.ServiceController"
    assert str(service) == "winrm"
    assert service["servicename"] == service.ServiceName == "winrm"  # case-insensitive
    assert service.extended["Name"] == "winrm"
    assert service.adapted["ServicesDependedOn"] == ["RPCSS", "HTTP"]
    assert service.get("NoSuchProperty") is None


async def test_execute_ps_output() -> None:
    async with replayed_pool("test_client_execute_ps") as pool:
        result = await pool.invoke("$serv = Get-Service -Name winrm; $serv | Out-String")
    assert result.output[:2] == ["winrm", "Running"]
    assert any("Windows Remote Management" in line for line in result.output)
    assert result.state is PipelineState.COMPLETED


async def test_operation_timeout_faults_are_polled_again() -> None:
    async with ReplayServer("test_psrp_long_running_cmdlet") as server:
        REPLAYED.add("test_psrp_long_running_cmdlet")
        async with connect(
            "127.0.0.1",
            port=server.port,
            auth="basic",
            credential=("user", "x"),
            allow_basic_over_http=True,
        ) as pool:
            result = await pool.invoke("Start-Sleep 10; 'hi'")
        assert server.mismatches == [] and server.unplayed == []
        assert server.actions == [*OPEN, "Command", "Receive", "Receive", "Receive", "Delete"]
    assert result.output == ["hi"]
    assert result.state is PipelineState.COMPLETED


async def test_winrs_stdout_and_exit_code() -> None:
    result, actions = await replayed_cmd("test_winrs_standard", "cmd.exe", "/c", "echo", "hi")
    assert (result.stdout, result.stderr, result.exit_code) == (b"hi\r\n", b"", 0)
    assert actions == ["Create", "Command", "Receive", "Signal", "Delete"]


async def test_winrs_stderr_and_failing_exit_code() -> None:
    result, _ = await replayed_cmd("test_winrs_stderr_rc", "cmd.exe", "/c echo out && exit 1")
    assert (result.stdout, result.stderr, result.exit_code) == (b"out \r\n", b"err \r\n", 1)


async def test_winrs_operation_timeout_polls_again() -> None:
    result, actions = await replayed_cmd("test_winrs_operation_timeout", "powershell.exe", "x")
    assert result.stdout == b"hi\nhi again\n"
    assert actions.count("Receive") == 4


def test_every_capture_is_replayed() -> None:
    # Runs last in this module (pytest keeps file order).
    assert set(capture_names()) <= REPLAYED

"""minips items reach a real psrpcore client through a psrpcore server, in memory."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psrpcore import (
    ClientPowerShell,
    ClientRunspacePool,
    ServerPipeline,
    ServerRunspacePool,
)
from psrpcore.types import PSInvocationState, RunspacePoolState

from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import run_commands
from psfleet.simfleet.psrp_output import command_specs, emit


def _drain(source: Any, sink: Any) -> None:
    while (data := source.data_to_send()) is not None:
        sink.receive_data(data)


def _events(pool: Any) -> Iterator[Any]:
    while (event := pool.next_event()) is not None:
        yield event


@pytest.fixture
def pools() -> tuple[ClientRunspacePool, ServerRunspacePool]:
    client, server = ClientRunspacePool(), ServerRunspacePool()
    client.open()
    _drain(client, server)
    list(_events(server))
    _drain(server, client)
    list(_events(client))
    assert client.state == RunspacePoolState.Opened
    return client, server


def _invoke(pools: Any, ctx: SessionContext, build: Any) -> list[Any]:
    """Start a client pipeline, run it on the server with minips, return the client's events."""
    client, server = pools
    ps = ClientPowerShell(client)
    build(ps)
    ps.start()
    # The server pipeline must exist before the CreatePipeline fragment is processed.
    pipeline = ServerPipeline(server, ps.pipeline_id)
    _drain(client, server)
    list(_events(server))
    pipeline.start()
    for item in run_commands(command_specs(pipeline), ctx):
        emit(pipeline, item, ctx)
    _drain(server, client)
    return [e for e in _events(client) if getattr(e, "pipeline_id", None) == ps.pipeline_id]


def _kinds(events: list[Any]) -> list[str]:
    return [type(e).__name__ for e in events]


def test_outputs_and_non_terminating_error_end_completed(pools, ctx) -> None:
    events = _invoke(pools, ctx, lambda ps: ps.add_script("'before'; Get-Foo; Get-Service winrm"))
    assert _kinds(events) == [
        "PipelineStateEvent",  # Running, emitted by start()
        "PipelineOutputEvent",
        "ErrorRecordEvent",
        "PipelineOutputEvent",
        "PipelineStateEvent",
    ]
    assert events[1].data == "before"
    record = events[2].record
    assert record.FullyQualifiedErrorId == "CommandNotFoundException"
    assert record.TargetObject == "Get-Foo"
    assert record.InvocationInfo.ScriptLineNumber == 1
    svc = events[3].data
    # Deserialized objects: property lookups are case-sensitive on the client side.
    assert svc.PSTypeNames[0] == "Deserialized.System.ServiceProcess.ServiceController"
    assert svc.Name == "WinRM"
    # In one process psrpcore rehydrates the enum through the shared type registry.
    assert (svc.Status.name, int(svc.Status)) == ("Running", 4)
    assert events[-1].state == PSInvocationState.Completed


def test_throw_ends_failed_with_the_error_record(pools, ctx) -> None:
    events = _invoke(pools, ctx, lambda ps: ps.add_script("'x'; throw 'it broke'"))
    final = events[-1]
    assert final.state == PSInvocationState.Failed
    assert final.reason.FullyQualifiedErrorId == "it broke"
    assert final.reason.Exception.Message == "it broke"


def test_streams_map_to_their_psrp_records(pools, ctx) -> None:
    script = (
        "Write-Warning w; Write-Verbose v -Verbose; Write-Debug d -Debug; "
        "Write-Information i -Tags t; Write-Progress -Activity a -Status s -PercentComplete 10"
    )
    events = _invoke(pools, ctx, lambda ps: ps.add_script(script))
    assert _kinds(events)[1:-1] == [
        "WarningRecordEvent",
        "VerboseRecordEvent",
        "DebugRecordEvent",
        "InformationRecordEvent",
        "ProgressRecordEvent",
    ]
    info = events[4].record
    assert (info.MessageData, info.Computer, list(info.Tags)) == ("i", "NODE01", ["t"])
    assert events[5].record.PercentComplete == 10


def test_double_hop_denial_reaches_the_client_as_windows_record(pools, ctx) -> None:
    events = _invoke(
        pools, ctx, lambda ps: ps.add_script("Invoke-Command -ComputerName node02 { 1 }")
    )
    record = events[1].record
    assert record.FullyQualifiedErrorId == "AccessDenied,PSSessionStateBroken"
    assert record.CategoryInfo.Category.name == "OpenError"
    assert "Access is denied." in record.Exception.Message
    assert events[-1].state == PSInvocationState.Completed


def test_cmdlet_commands_with_parameters_and_statements(pools, ctx) -> None:
    def build(ps: ClientPowerShell) -> None:
        ps.add_command("Get-Service").add_parameter("Name", "winrm")
        ps.add_command("Select-Object").add_parameter("ExpandProperty", "DisplayName")
        ps.add_statement()
        ps.add_script("1..2")

    events = _invoke(pools, ctx, build)
    outputs = [e.data for e in events if type(e).__name__ == "PipelineOutputEvent"]
    assert outputs == ["Windows Remote Management (WS-Management)", 1, 2]

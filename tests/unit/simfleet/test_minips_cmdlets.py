"""Cmdlets return realistic psrpcore objects and shape pipelines like PowerShell."""

from __future__ import annotations

import datetime as dt

from psrpcore.types import PSObject, serialize_clixml

from psfleet.simfleet.minips import Debug, Information, Progress, Sleep, Verbose, Warning


def _type(value: PSObject) -> str:
    return str(value.PSTypeNames[0])


def test_get_service_returns_service_controllers_with_status_enum(run, ctx) -> None:
    (winrm,) = run("Get-Service -Name winrm").outputs
    assert _type(winrm) == "System.ServiceProcess.ServiceController"
    assert str(winrm) == "WinRM"
    assert winrm.DisplayName == "Windows Remote Management (WS-Management)"
    assert _type(winrm.Status) == "System.ServiceProcess.ServiceControllerStatus"
    assert winrm.Status.name == "Running"
    xml = serialize_clixml(winrm, None)
    assert "<ToString>Running</ToString>" in xml
    assert "<ToString>WinRM</ToString>" in xml
    assert len(run("Get-Service").outputs) == len(ctx.host.services)


def test_unknown_service_is_a_non_terminating_error(run) -> None:
    result = run("Get-Service nope; 'next'")
    (record,) = result.errors
    assert record.FullyQualifiedErrorId == (
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    )
    assert result.outputs == ["next"]


def test_get_process_returns_process_objects(run) -> None:
    processes = run("Get-Process").outputs
    first = processes[0]
    assert _type(first) == "System.Diagnostics.Process"
    assert str(first) == f"System.Diagnostics.Process ({first.ProcessName})"
    assert {"Id", "ProcessName", "CPU", "WS", "Handles"} <= {
        p.name for p in (*first.PSObject.adapted_properties, *first.PSObject.extended_properties)
    }
    assert run("Get-Process -Name lsass | Select-Object -ExpandProperty Name").outputs == ["lsass"]


def test_get_date_hostname_and_env(run) -> None:
    now = run("Get-Date").outputs[0]
    assert isinstance(now, dt.datetime)
    assert run("hostname; $env:COMPUTERNAME; whoami").outputs == ["NODE01", "NODE01", "lab\\admin"]


def test_get_computer_info_describes_the_host(run, ctx) -> None:
    (info,) = run("Get-ComputerInfo").outputs
    assert _type(info) == "Microsoft.PowerShell.Commands.ComputerInfo"
    assert info.CsName == "NODE01"
    assert info.OsBuildNumber == str(ctx.host.os_build)
    assert info.WindowsProductName.startswith("Windows Server 20")
    assert info.OsLastBootUpTime == ctx.host.boot_time
    assert info.OsTotalVisibleMemorySize == ctx.host.memory_kb


def test_cluster_cmdlets_on_a_cluster_node(run) -> None:
    nodes = run("Get-ClusterNode").outputs
    assert [str(n) for n in nodes] == ["NODE01", "NODE02"]
    assert _type(nodes[0]) == "Microsoft.FailoverClusters.PowerShell.ClusterNode"
    assert nodes[0].State.name == "Up"
    assert nodes[0].Cluster == "CLUSTER1"
    groups = run("Get-ClusterGroup").outputs
    assert _type(groups[0]) == "Microsoft.FailoverClusters.PowerShell.ClusterGroup"


def test_cluster_cmdlets_off_cluster_fail(run, session) -> None:
    result = run("Get-ClusterNode", session(host=2))
    assert result.errors[0].FullyQualifiedErrorId.startswith("ClusterServiceNotRunning,")


def test_where_object_script_block_and_simplified_forms_agree(run) -> None:
    long_form = run("Get-Service | Where-Object { $_.Status -eq 'Running' } | % Name").outputs
    short_form = run("Get-Service | Where-Object Status -eq Running | ForEach-Object Name").outputs
    assert long_form == short_form
    assert "WinRM" in long_form
    assert run("1..10 | ? { $_ -gt 8 }").outputs == [9, 10]
    assert run("'a1', 'b2', 'a3' | Where-Object { $_ -like 'a*' }").outputs == ["a1", "a3"]
    assert run("'x', 'yy' | where Length -ge 2").outputs == ["yy"]


def test_select_object_first_last_skip_property_and_expand(run) -> None:
    assert run("1..10 | Select-Object -First 3").outputs == [1, 2, 3]
    assert run("1..10 | Select-Object -Last 2").outputs == [9, 10]
    assert run("1..5 | Select-Object -Skip 3").outputs == [4, 5]
    (picked,) = run("Get-Service winrm | Select-Object -Property Name, Status").outputs
    assert picked.PSTypeNames[0] == "Selected.System.ServiceProcess.ServiceController"
    assert (picked.Name, picked.Status.name) == ("WinRM", "Running")
    assert run("Get-Service winrm | Select -ExpandProperty DisplayName").outputs == [
        "Windows Remote Management (WS-Management)"
    ]
    (calc,) = run(
        "Get-Service winrm | Select @{ n = 'Up'; e = { $_.Status -eq 'Running' } }"
    ).outputs
    assert calc.Up is True


def test_sort_object_by_value_property_and_descending(run) -> None:
    assert run("3, 1, 2 | Sort-Object").outputs == [1, 2, 3]
    assert run("3, 1, 2 | Sort-Object -Descending").outputs == [3, 2, 1]
    names = run("Get-Service | Sort-Object -Property Name -Descending | % Name").outputs
    assert names == sorted(names, key=str.lower, reverse=True)


def test_measure_object_returns_generic_measure_info(run) -> None:
    (info,) = run("1..4 | Measure-Object -Sum -Average -Maximum -Minimum").outputs
    assert info.PSTypeNames[0] == "Microsoft.PowerShell.Commands.GenericMeasureInfo"
    assert (info.Count, info.Sum, info.Average, info.Maximum, info.Minimum) == (4, 10, 2.5, 4, 1)
    (counted,) = run("Get-Service | Measure-Object").outputs
    assert counted.Count > 5
    assert counted.Sum is None
    (by_prop,) = run("Get-Process | Measure-Object -Property WS -Sum").outputs
    assert by_prop.Property == "WS"
    assert by_prop.Sum > 0


def test_foreach_object_runs_per_item(run) -> None:
    assert run("1..3 | ForEach-Object { $_ * 2 }").outputs == [2, 4, 6]
    assert run("1..3 | % { $x = $_ }; $x").outputs == [3]


def test_write_cmdlets_use_their_streams_and_preferences(run) -> None:
    result = run(
        "Write-Output o; Write-Warning w; Write-Verbose hidden; Write-Debug hidden; "
        "Write-Verbose v -Verbose; $DebugPreference = 'Continue'; Write-Debug d; "
        "Write-Information i -Tags t1; Write-Host h; "
        "Write-Progress -Activity act -Status st -PercentComplete 50"
    )
    assert result.outputs == ["o"]
    assert [w.message for w in result.of(Warning)] == ["w"]
    assert [v.message for v in result.of(Verbose)] == ["v"]
    assert [d.message for d in result.of(Debug)] == ["d"]
    info = result.of(Information)
    # Write-Host's message data is a HostInformationMessage whose ToString is the text.
    assert [(str(i.message_data), i.source, i.tags) for i in info] == [
        ("i", "Write-Information", ("t1",)),
        ("h", "Write-Host", ("PSHOST",)),
    ]
    (progress,) = result.of(Progress)
    assert (progress.activity, progress.status, progress.percent) == ("act", "st", 50)


def test_start_sleep_yields_sleep_items_between_outputs(run) -> None:
    result = run("1..2 | % { $_; Start-Sleep -Milliseconds 250 }; Start-Sleep 1")
    kinds = [
        (type(i).__name__, getattr(i, "value", getattr(i, "seconds", None))) for i in result.items
    ]
    assert kinds[:-1] == [
        ("Output", 1),
        ("Sleep", 0.25),
        ("Output", 2),
        ("Sleep", 0.25),
        ("Sleep", 1.0),
    ]
    assert all(isinstance(i, Sleep) for i in result.items if type(i).__name__ == "Sleep")


def test_out_string_stream_renders_the_service_table_like_windows(run) -> None:
    lines = run("Get-Service winrm | Out-String -Stream").outputs
    assert lines == [
        "",
        "Status   Name               DisplayName                           ",
        "------   ----               -----------                           ",
        "Running  WinRM              Windows Remote Management (WS-Manag...",
        "",
        "",
    ]


def test_execute_ps_shape_invoke_expression_then_out_string(run) -> None:
    script = (
        "Invoke-Expression '$s = Get-Service -Name winrm; $s.Name; $s.Status' | Out-String -Stream"
    )
    assert run(script).outputs == ["WinRM", "Running"]

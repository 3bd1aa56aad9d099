"""The double-hop rule: reaching another host needs delegable credentials."""

from __future__ import annotations

import pytest

ACCESS_DENIED = (
    "Connecting to remote server node02 failed with the following error message : "
    "Access is denied. For more information, see the about_Remote_Troubleshooting Help topic."
)


def test_nested_invoke_command_without_delegation_is_access_denied(run) -> None:
    result = run("Invoke-Command -ComputerName node02 { hostname }; 'after'")
    assert result.outputs == ["after"]
    (record,) = result.errors
    assert record.Exception.Message == ACCESS_DENIED
    assert record.Exception.PSTypeNames[0] == (
        "System.Management.Automation.Remoting.PSRemotingTransportException"
    )
    assert record.CategoryInfo.Category.name == "OpenError"
    assert record.FullyQualifiedErrorId == "AccessDenied,PSSessionStateBroken"
    assert record.TargetObject == "node02"
    assert not result.finished.failed


@pytest.mark.parametrize("form", ["{ hostname }", "-ScriptBlock { hostname }"])
def test_nested_invoke_command_with_delegation_runs_on_the_other_host(run, session, form) -> None:
    result = run(f"Invoke-Command -ComputerName NODE02.lab.test {form}", session(delegable=True))
    (value,) = result.outputs
    assert value == "NODE02"
    assert value.PSComputerName == "NODE02"
    assert result.errors == []


def test_remote_objects_come_back_deserialized_and_tagged(run, session) -> None:
    script = "Invoke-Command -ComputerName node02 { Get-Service winrm }"
    (svc,) = run(script, session(delegable=True)).outputs
    assert svc.PSTypeNames[0] == "Deserialized.System.ServiceProcess.ServiceController"
    assert svc.PSComputerName == "NODE02"
    (local,) = run("Get-Service winrm").outputs
    assert local.PSTypeNames[0] == "System.ServiceProcess.ServiceController"


def test_invoke_command_passes_arguments_and_using_variables(run, session) -> None:
    script = "$x = 5; Invoke-Command -ComputerName node02 -ArgumentList 2 { $args[0] * $using:x }"
    assert run(script, session(delegable=True)).outputs == [10]


def test_a_second_hop_to_the_same_host_is_not_a_double_hop(run) -> None:
    for name in ("node01", "NODE01.LAB.TEST", "localhost", "127.0.1.1"):
        result = run(f"Invoke-Command -ComputerName {name} {{ $env:COMPUTERNAME }}")
        assert result.outputs == ["NODE01"], name


def test_unknown_host_is_winrm_cannot_complete(run, session) -> None:
    (record,) = run("Invoke-Command -ComputerName ghost { 1 }", session(delegable=True)).errors
    assert record.FullyQualifiedErrorId == "ComputerNotFound,PSSessionStateBroken"
    assert "WinRM cannot complete the operation" in record.Exception.Message
    assert record.TargetObject == "ghost"


def test_explicit_credential_avoids_the_double_hop(run) -> None:
    assert run("Invoke-Command -ComputerName node02 -Credential x { 1 }").outputs == [1]


def test_unc_path_on_another_host_needs_delegation(run, session) -> None:
    denied = run(r"Get-ChildItem \\node02\share")
    (record,) = denied.errors
    assert record.Exception.PSTypeNames[0] == "System.UnauthorizedAccessException"
    assert record.Exception.Message == r"Access to the path '\\node02\share' is denied."
    assert record.CategoryInfo.Category.name == "PermissionDenied"
    assert record.FullyQualifiedErrorId == (
        "DirUnauthorizedAccessError,Microsoft.PowerShell.Commands.GetChildItemCommand"
    )
    assert record.TargetObject == r"\\node02\share"
    allowed = run(r"Get-ChildItem \\node02\share", session(delegable=True)).outputs
    assert {str(i) for i in allowed} == {"Logs", "Reports", "inventory.csv", "readme.txt"}
    assert {i.PSTypeNames[0] for i in allowed} == {"System.IO.DirectoryInfo", "System.IO.FileInfo"}
    assert run(r"Get-ChildItem \\node01\share").errors == []


def test_unc_path_on_unknown_host_is_path_not_found(run, session) -> None:
    (record,) = run(r"Get-ChildItem \\ghost\share", session(delegable=True)).errors
    assert (
        record.FullyQualifiedErrorId
        == "PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand"
    )


def test_test_cluster_needs_delegation_to_reach_the_other_nodes(run, session) -> None:
    (record,) = run("Test-Cluster").errors
    assert record.Exception.PSTypeNames[0] == (
        "Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"
    )
    assert "You do not have administrative privileges on the cluster" in record.Exception.Message
    assert "NODE02" in record.Exception.Message
    assert record.CategoryInfo.Category.name == "AuthenticationError"
    assert record.FullyQualifiedErrorId == (
        "ClusterAccessDenied,Microsoft.FailoverClusters.PowerShell.TestClusterCommand"
    )
    (report,) = run("Test-Cluster", session(delegable=True)).outputs
    assert report.PSTypeNames[0] == "System.IO.FileInfo"
    assert str(report).startswith("Validation Report ")


def test_test_cluster_on_only_this_node_is_single_hop(run) -> None:
    assert run("Test-Cluster -Node node01").errors == []

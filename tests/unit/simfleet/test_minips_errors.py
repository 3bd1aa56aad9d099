"""Errors look and behave like Windows PowerShell 5.1's (checked against the captures)."""

from __future__ import annotations

from psfleet.simfleet.minips import CommandSpec, run_commands

NOT_RECOGNIZED = (
    "The term 'Get-ServiceTypo' is not recognized as the name of a cmdlet, function, script file, "
    "or operable program. Check the spelling of the name, or if a path was included, verify that "
    "the path is correct and try again."
)


def test_unknown_command_is_command_not_found_and_the_script_goes_on(run) -> None:
    result = run("'before'; Get-ServiceTypo -Name winrm; 'after'")
    assert result.outputs == ["before", "after"]
    (record,) = result.errors
    assert record.Exception.Message == NOT_RECOGNIZED
    assert record.Exception.PSTypeNames[:2] == [
        "System.Management.Automation.CommandNotFoundException",
        "System.Management.Automation.RuntimeException",
    ]
    assert record.CategoryInfo.Category.name == "ObjectNotFound"
    assert (
        str(record.CategoryInfo)
        == "ObjectNotFound: (Get-ServiceTypo:String) [], CommandNotFoundException"
    )
    assert record.FullyQualifiedErrorId == "CommandNotFoundException"
    assert record.TargetObject == "Get-ServiceTypo"
    assert record.InvocationInfo.ScriptLineNumber == 1
    assert record.InvocationInfo.OffsetInLine == 11
    assert record.InvocationInfo.PositionMessage.startswith("At line:1 char:11\r\n")
    assert not result.finished.failed


def test_unknown_command_under_invoke_expression_fails_the_pipeline(ctx) -> None:
    # pypsrp's execute_ps: Invoke-Expression <text> | Out-String -Stream (capture:
    # test_client_execute_ps_failure.yml ends Failed with the CommandNotFoundException).
    specs = [
        CommandSpec("Invoke-Expression", parameters=(("Command", "Get-ServiceTypo -Name winrm"),)),
        CommandSpec("Out-String", parameters=(("Stream", None),), end_of_statement=True),
    ]
    items = list(run_commands(specs, ctx))
    assert len(items) == 1
    assert items[0].failed
    assert items[0].error.FullyQualifiedErrorId == "CommandNotFoundException"


def test_write_error_is_non_terminating_write_error_exception(run) -> None:
    result = run("Write-Error 'bad thing'; 'after'")
    (record,) = result.errors
    assert record.Exception.PSTypeNames[0] == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert record.FullyQualifiedErrorId == "Microsoft.PowerShell.Commands.WriteErrorException"
    assert str(record.CategoryInfo) == "NotSpecified: (:) [Write-Error], WriteErrorException"
    assert result.outputs == ["after"]
    assert not result.finished.failed


def test_error_action_preference_stop_fails_like_the_capture(run) -> None:
    # test_psrp_error_failed.yml: output 'before', then Failed with the WriteErrorException.
    result = run(
        "$ErrorActionPreference = 'Stop'; Write-Output before; Write-Error error; "
        "Write-Output after"
    )
    assert result.outputs == ["before"]
    assert result.errors == []
    assert result.finished.failed
    assert result.finished.error.Exception.Message == "error"


def test_error_action_parameter_stop_and_silently_continue(run) -> None:
    assert run("Get-Service nope -ErrorAction Stop; 'after'").finished.failed
    quiet = run("Get-Service nope -ErrorAction SilentlyContinue; 'after'")
    assert quiet.errors == []
    assert quiet.outputs == ["after"]


def test_throw_is_terminating_runtime_exception(run) -> None:
    result = run("'before'; throw 'it broke'; 'after'")
    assert result.outputs == ["before"]
    record = result.finished.error
    assert result.finished.failed
    assert record.Exception.PSTypeNames[0] == "System.Management.Automation.RuntimeException"
    assert record.FullyQualifiedErrorId == "it broke"
    assert record.TargetObject == "it broke"
    assert record.CategoryInfo.Category.name == "OperationStopped"


def test_exit_ends_the_script_with_its_code(run) -> None:
    result = run("'a'; exit 3; 'b'")
    assert result.outputs == ["a"]
    assert (result.finished.failed, result.finished.exit_code) == (False, 3)


def test_unknown_parameter_is_a_parameter_binding_error(run) -> None:
    (record,) = run("Get-Service -Nmae winrm").errors
    assert record.FullyQualifiedErrorId == (
        "NamedParameterNotFound,Microsoft.PowerShell.Commands.GetServiceCommand"
    )


def test_run_commands_runs_statements_and_pipes_like_psrpcore_sends_them(ctx) -> None:
    specs = [
        CommandSpec("Get-Service", parameters=(("Name", "winrm"),)),
        CommandSpec(
            "Select-Object", parameters=(("ExpandProperty", "Name"),), end_of_statement=True
        ),
        CommandSpec(
            "param($x) $x * 2; $input",
            is_script=True,
            parameters=(("x", 21),),
            end_of_statement=True,
        ),
        CommandSpec("Get-Nothing", end_of_statement=True),
        CommandSpec("whoami.exe", end_of_statement=True),
    ]
    items = list(run_commands(specs, ctx, input=[]))
    values = [getattr(i, "value", None) for i in items if type(i).__name__ == "Output"]
    assert values == ["WinRM", 42, "lab\\admin"]
    errors = [i.record.FullyQualifiedErrorId for i in items if type(i).__name__ == "Error"]
    assert errors == ["CommandNotFoundException"]
    assert not items[-1].failed

"""Set-Variable, by name and position, from PSRP commands and from the pipeline."""

from __future__ import annotations

from psfleet.simfleet.minips import CommandSpec, Output, run_commands


def test_named_and_positional_forms_set_the_variable(run) -> None:
    result = run("Set-Variable -Name a -Value 1; Set-Variable b 2; sv c 3; $a; $b; $c")
    assert result.outputs == [1, 2, 3]


def test_pipeline_input_is_the_value_when_value_is_not_given(run) -> None:
    assert run("1..3 | Set-Variable x; $x.Count; 'one' | Set-Variable y; $y").outputs == [
        3,
        "one",
    ]


def test_several_names_and_a_null_value(run) -> None:
    assert run("$a = 1; Set-Variable a, b 5; Set-Variable c; $a; $b; $c -eq $null").outputs == [
        5,
        5,
        True,
    ]


def test_missing_name_is_a_binding_error(run) -> None:
    result = run("Set-Variable -Value 1; 'next'")
    (record,) = result.errors
    assert record.FullyQualifiedErrorId == (
        "MissingMandatoryParameter,Microsoft.PowerShell.Commands.SetVariableCommand"
    )
    assert record.Exception.Message == (
        "Cannot process command because of one or more missing mandatory parameters: Name."
    )
    assert result.outputs == ["next"]


def test_variables_set_by_one_psrp_statement_are_seen_by_the_next(ctx) -> None:
    specs = [
        CommandSpec("Set-Variable", False, (("Name", "integer"), ("Value", 123)), True),
        CommandSpec("$integer", True, (), True),
    ]
    items = list(run_commands(specs, ctx))
    assert [i.value for i in items if isinstance(i, Output)] == [123]

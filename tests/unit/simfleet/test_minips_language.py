"""The PowerShell subset: literals, operators, variables, control flow, parsing."""

from __future__ import annotations

import pytest
from psrpcore.types import PSVersion

from psfleet.simfleet.minips.parser import ParseError, parse


def test_ranges_produce_ints(run) -> None:
    assert run("1..5").outputs == [1, 2, 3, 4, 5]
    assert run("3..1").outputs == [3, 2, 1]


def test_literals_strings_numbers_arrays_and_hashtables(run) -> None:
    result = run("'it''s'; \"tab`there\"; 1.5; 0x10; 2kb; 1, 'two', 3; @{ Name = 'x'; Count = 2 }")
    assert result.outputs == [
        "it's",
        "tab\there",
        1.5,
        16,
        2048,
        1,
        "two",
        3,
        {"Name": "x", "Count": 2},
    ]


def test_expandable_strings_see_variables_env_and_subexpressions(run) -> None:
    result = run('$n = 3; "n=$n host=$env:COMPUTERNAME sum=$(1 + 2) literal=$n.Name"')
    assert result.outputs == ["n=3 host=NODE01 sum=3 literal=3.Name"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("5 -eq '5'", True),
        ("'ABC' -eq 'abc'", True),
        ("'ABC' -ceq 'abc'", False),
        ("3 -ne 4", True),
        ("10 -gt 9", True),
        ("'10' -gt 9", False),  # the left operand's type wins: string comparison
        ("2 -lt 1", False),
        ("2 -ge 2", True),
        ("2 -le 1", False),
        ("'Spooler' -like 'sp*'", True),
        ("'Spooler' -notlike 'sp*'", False),
        ("'node01' -match '^NODE\\d+$'", True),
        ("1, 2, 3 -contains 2", True),
        ("2 -in 1, 2", True),
        ("-not $true", False),
        ("$true -and $false", False),
        ("$false -or 1", True),
        ("7 % 3", 1),
        ("6 / 4", 1.5),
        ("6 / 3", 2),
        ("'a' + 1", "a1"),
        ("'{0}-{1:N1}' -f 'x', 2.26", "x-2.3"),
    ],
)
def test_operators_follow_powershell(run, expression: str, expected: object) -> None:
    assert run(expression).outputs == [expected]


def test_comparison_with_array_on_the_left_filters(run) -> None:
    assert run("1, 2, 3, 2 -eq 2").outputs == [2, 2]


def test_assignment_index_member_and_count(run) -> None:
    result = run("$a = 10, 20, 30; $a[1]; $a[-1]; $a.Count; 'abc'.Length; 'abc'.ToUpper()")
    assert result.outputs == [20, 30, 3, 3, "ABC"]


def test_if_foreach_and_try_catch(run) -> None:
    script = """
    foreach ($i in 1..3) {
        if ($i -eq 2) { 'two' } elseif ($i -gt 2) { 'big' } else { $i }
    }
    try { throw 'boom' } catch { "caught $_" }
    """
    assert run(script).outputs == [1, "two", "big", "caught boom"]


def test_param_block_binds_args_and_named_params(run) -> None:
    script = "param($first, [int]$second = 5) $first; $second; $args"
    assert run(script, args=["a"]).outputs == ["a", 5]
    assert run(script, args=["a", 2, "extra"]).outputs == ["a", 2, "extra"]
    assert run(script, params={"second": 9}, args=["a"]).outputs == ["a", 9]


def test_input_flows_into_process_block_and_dollar_input(run) -> None:
    with_blocks = "begin { 'start' } process { $_ * 10 } end { 'end' }"
    assert run(with_blocks, input=[1, 2]).outputs == ["start", 10, 20, "end"]
    assert run("$input | ForEach-Object { $_ + 1 }", input=[1, 2]).outputs == [2, 3]


def test_psversiontable_gives_a_51_version_object(run) -> None:
    version = run("$PSVersionTable.PSVersion").outputs[0]
    assert isinstance(version, PSVersion)
    assert (version.major, version.minor) == (5, 1)
    assert run("$PSVersionTable.PSVersion.Major; $PSVersionTable.PSEdition").outputs == [
        5,
        "Desktop",
    ]


def test_parse_is_cached_per_script_text() -> None:
    text = "Get-Service | Select-Object -First 1"
    assert parse(text) is parse(text)


@pytest.mark.parametrize(
    ("script", "error_id"),
    [
        ("Get-Service {", "MissingEndCurlyBrace"),
        ("'open", "TerminatorExpectedAtEndOfString"),
        ("(1 + 2", "MissingEndParenthesisInExpression"),
    ],
)
def test_parse_errors_fail_the_pipeline_with_parse_exception(
    run, script: str, error_id: str
) -> None:
    assert isinstance(parse(script), ParseError)
    result = run(script)
    assert result.items == [result.finished]
    record = result.finished.error
    assert result.finished.failed
    assert record.FullyQualifiedErrorId == error_id
    assert record.Exception.PSTypeNames[0] == "System.Management.Automation.ParseException"

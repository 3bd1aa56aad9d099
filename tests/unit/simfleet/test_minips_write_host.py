"""Write-Host: PowerShell 5.1's information record carrying a HostInformationMessage."""

from __future__ import annotations

from psfleet.simfleet.minips import Information, Output


def _messages(result) -> list:
    records = result.of(Information)
    assert all((r.source, r.tags) == ("Write-Host", ("PSHOST",)) for r in records)
    return [r.message_data for r in records]


def _props(message) -> dict:
    return {p.name: p.get_value(message) for p in message.PSObject.adapted_properties}


def test_remaining_arguments_are_joined_by_spaces(run) -> None:
    (message,) = _messages(run("Write-Host hi again"))
    assert str(message) == "hi again"
    assert message.PSObject.type_names == [
        "System.Management.Automation.HostInformationMessage",
        "System.Object",
    ]
    assert _props(message) == {
        "Message": "hi again",
        "NoNewLine": False,
        "ForegroundColor": None,  # no client host whose colors could be read
        "BackgroundColor": None,
    }


def test_arrays_unroll_and_separator_joins_them(run) -> None:
    messages = _messages(
        run("Write-Host (1, 2) 3; Write-Host a b -Separator ', '; Write-Host a b -Separator $null")
    )
    assert [str(m) for m in messages] == ["1 2 3", "a, b", "ab"]


def test_no_newline_and_colors_are_recorded_not_printed(run) -> None:
    (message,) = _messages(run("Write-Host -NoNewline x -ForegroundColor red -BackgroundColor 0"))
    assert _props(message) == {
        "Message": "x",
        "NoNewLine": True,
        "ForegroundColor": "Red",
        "BackgroundColor": "0",
    }


def test_each_pipeline_object_is_its_own_record(run) -> None:
    result = run("'a', 'b' | Write-Host; Write-Host")
    assert [str(m) for m in _messages(result)] == ["a", "b", ""]
    assert not result.of(Output)


def test_records_interleave_with_output_as_written(run) -> None:
    result = run('1..2 | ForEach-Object { $_; Write-Host "after $_" }')
    kinds = [
        i.value if isinstance(i, Output) else str(i.message_data)
        for i in result.items
        if isinstance(i, (Output, Information))
    ]
    assert kinds == [1, "after 1", 2, "after 2"]

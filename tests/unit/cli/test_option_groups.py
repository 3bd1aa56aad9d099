"""with_option_groups: a dataclass's fields become a command's options, parsed by real typer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import pytest
import typer
import typer.testing

from psfleet.cli.option_groups import with_option_groups


@dataclass(frozen=True, slots=True)
class Pace:
    throttle: Annotated[int, typer.Option(min=1, help="Hosts at once.")] = 32
    slow: Annotated[bool, typer.Option("--slow", help="Go slowly.")] = False


def _app(received: list[object]) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @with_option_groups(pace=Pace)
    def go(name: Annotated[str, typer.Argument()], *, pace: Pace, loud: bool = False) -> None:
        received.append((name, pace, loud))

    @app.command()
    def other() -> None:  # two commands: typer then wants the command's name
        raise AssertionError("not called")

    return app


def test_the_command_receives_one_instance_of_the_group_with_the_parsed_values() -> None:
    received: list[object] = []
    result = typer.testing.CliRunner().invoke(
        _app(received), ["go", "node01", "--throttle", "5", "--slow", "--loud"]
    )
    assert result.exit_code == 0, result.output
    assert received == [("node01", Pace(throttle=5, slow=True), True)]


def test_options_not_given_take_the_dataclass_defaults() -> None:
    received: list[object] = []
    result = typer.testing.CliRunner().invoke(_app(received), ["go", "node01"])
    assert result.exit_code == 0, result.output
    assert received == [("node01", Pace(), False)]


def test_the_group_options_keep_their_bounds_and_help() -> None:
    app = _app([])
    refused = typer.testing.CliRunner().invoke(app, ["go", "node01", "--throttle", "0"])
    assert refused.exit_code == 2
    shown = typer.testing.CliRunner().invoke(app, ["go", "--help"], env={"COLUMNS": "200"})
    assert "Hosts at once." in shown.output
    assert "--slow" in shown.output
    assert "--pace" not in shown.output


def test_a_group_must_name_a_parameter_of_the_command() -> None:
    def command(*, other: int = 0) -> None:
        return None

    with pytest.raises(TypeError, match="has no parameter pace"):
        with_option_groups(pace=Pace)(command)


def test_a_group_field_may_not_repeat_a_parameter_of_the_command() -> None:
    def command(*, pace: Pace, throttle: int = 1) -> None:
        return None

    with pytest.raises(TypeError, match="repeats throttle"):
        with_option_groups(pace=Pace)(command)

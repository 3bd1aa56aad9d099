"""The options of `run`, `shell`, `doctor` and `bench` stay as users know them: scripts use them.

`options_users_see.json` holds each option as the Click command that typer builds shows it
(flags, help, default, bounds), captured before the connection options became one declaration.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing

from psfleet.cli.app import app

CAPTURED = Path(__file__).with_name("options_users_see.json")
COMMANDS = ("run", "shell", "doctor", "bench")

# Options a command gained when every command took the same connection options (issue 12):
# shell could not use --auth certificate (no --client-cert) nor Basic over HTTP before.
ADDED: dict[str, set[str]] = {
    "run": set(),
    "shell": {"client_cert", "client_key", "allow_basic_over_http", "max_auth_failures"},
    "doctor": {"max_auth_failures"},
    "bench": {"max_auth_failures"},
}
# Options new to psfleet, in no command before.
NEW: dict[str, set[str]] = {
    "run": {
        # where run runs its hosts (issue 13)
        *("executor", "scheduler", "workers", "chunk_size"),
        # the run store and disconnected sessions (issue 15)
        *("state_dir", "no_store", "keep_output", "rerun", "disconnected", "idle_timeout"),
    },
    # where bench probes its hosts (issue 13)
    "bench": {"executor", "scheduler", "workers", "chunk_size"},
}


def describe(param: Any) -> dict[str, Any]:
    """What a user sees of one parameter; Path defaults become text so the JSON can hold them."""
    default = param.default
    return {
        "kind": "argument" if param.param_type_name == "argument" else "option",
        "opts": list(param.opts),
        "secondary_opts": list(param.secondary_opts),
        "help": param.help,
        "default": str(default) if isinstance(default, Path) else default,
        "required": param.required,
        "multiple": param.multiple,
        "nargs": param.nargs,
        "is_flag": getattr(param, "is_flag", False),
        "min": param.min,
        "max": param.max,
        "metavar": param.metavar,
        "envvar": param.envvar,
        "hidden": param.hidden,
        "show_default": param.show_default,
        "type": str(param.type_descriptor.annotation),
    }


def options_seen(command: str) -> dict[str, dict[str, Any]]:
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {param.name: describe(param) for param in click_command.params}


def captured(command: str) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = json.loads(CAPTURED.read_text())[command]
    return result


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_users_had_reads_and_defaults_as_before(command: str) -> None:
    seen = options_seen(command)
    for name, before in captured(command).items():
        assert seen.get(name) == before, f"psfleet {command}: {name}"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_has_only_the_options_it_had_and_the_listed_additions(command: str) -> None:
    added = ADDED[command] | NEW.get(command, set())
    assert set(options_seen(command)) - set(captured(command)) == added


@pytest.mark.parametrize("command", COMMANDS)
def test_an_added_option_reads_as_in_the_commands_that_already_had_it(command: str) -> None:
    seen = options_seen(command)
    for name in ADDED[command]:
        elsewhere = [captured(c)[name] for c in COMMANDS if name in captured(c)]
        assert elsewhere, f"{name} is new to every command"
        assert all(seen[name] == before for before in elsewhere), f"psfleet {command}: {name}"


def test_help_of_every_command_renders() -> None:
    for command in COMMANDS:
        result = typer.testing.CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--auth" in result.output

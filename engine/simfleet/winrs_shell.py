"""A cmd.exe (WinRS) shell on a simulated host: each Command runs to completion at once."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from psfleet.simfleet.cmdshell import run_cmd
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.powershell_exe import is_powershell, run_powershell


@dataclass(slots=True)
class _CmdCommand:
    command_id: str
    stdout: bytes
    stderr: bytes
    exit_code: int
    delivered: bool = False


class WinrsShell:
    kind = "cmd"

    def __init__(self, shell_id: str, context: SessionContext) -> None:
        self.shell_id = shell_id
        self.context = context
        self.commands: dict[str, _CmdCommand] = {}

    @property
    def running_commands(self) -> int:
        return sum(1 for c in self.commands.values() if not c.delivered)

    def command(self, command_id: str, command: str, arguments: tuple[str, ...]) -> str:
        words = _words(command, arguments)
        if is_powershell(words):
            result = run_powershell(words, self.context)
        else:
            result = run_cmd(command, arguments, self.context)
        self.commands[command_id] = _CmdCommand(
            command_id, result.stdout, result.stderr, result.exit_code
        )
        return command_id

    def stop(self, command_id: str) -> None:
        self.commands.pop(command_id.upper(), None)

    def close(self) -> None:
        self.commands.clear()


def _words(command: str, arguments: tuple[str, ...]) -> list[str]:
    """The command line split as cmd.exe hands it to a program (close enough for powershell)."""
    try:
        return shlex.split(" ".join([command, *arguments]), posix=False)
    except ValueError:
        return [command, *arguments]

"""A cmd.exe (WinRS) shell on a simulated host.

A command runs to its end when it is created, unless it sleeps (powershell.exe with
Start-Sleep): then it goes on in a task, and Receive long polls see it Running with
the output printed so far, as on Windows.
"""

from __future__ import annotations

import asyncio
import collections
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from psfleet.simfleet.cmdshell import CmdResult, run_cmd
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import Sleep
from psfleet.simfleet.outbox import Changes, encoded_size
from psfleet.simfleet.powershell_exe import Step, is_powershell, run_powershell
from psfleet.wsman import names
from psfleet.wsman.shell import CommandState, StreamChunk

_LONGEST_SLEEP_S = 3600.0


@dataclass(eq=False)
class _CmdCommand:
    command_id: str
    # Chunks printed and not yet received: (stream name, bytes), in order.
    printed: collections.deque[tuple[str, bytes]] = field(default_factory=collections.deque)
    exit_code: int | None = None  # None while it runs
    task: asyncio.Task[None] | None = None
    delivered: bool = False  # the client has received its Done state

    @property
    def done(self) -> bool:
        return self.exit_code is not None


class WinrsShell:
    kind = "cmd"

    def __init__(self, shell_id: str, context: SessionContext) -> None:
        self.shell_id = shell_id
        self.context = context
        self.commands: dict[str, _CmdCommand] = {}
        self.changes = Changes()
        self.closed = False

    @property
    def running_commands(self) -> int:
        return sum(1 for c in self.commands.values() if not c.delivered)

    def command(self, command_id: str, command: str, arguments: tuple[str, ...]) -> str:
        entry = _CmdCommand(command_id)
        self.commands[command_id] = entry
        words = _words(command, arguments)
        if is_powershell(words):
            self._advance(entry, run_powershell(words, self.context))
        else:
            _record(entry, run_cmd(command, arguments, self.context))
        return command_id

    def has_news(self, command_id: str) -> bool:
        """Receive has something to answer: output, the end, or the shell is gone."""
        entry = self.commands.get(command_id)
        return self.closed or entry is None or bool(entry.printed) or entry.done

    def receive(
        self, command_id: str, room: int, overhead: int
    ) -> tuple[list[StreamChunk], CommandState]:
        """Printed chunks that fit `room` bytes of a response (each counted as its base64
        text plus `overhead`), cut where needed; Done with the exit code once all are taken."""
        entry = self.commands[command_id]
        chunks: list[StreamChunk] = []
        while entry.printed and room > overhead + 4:
            stream, data = entry.printed.popleft()
            fits = (room - overhead) // 4 * 3
            if len(data) > fits:
                entry.printed.appendleft((stream, data[fits:]))
                data = data[:fits]
            room -= encoded_size(len(data)) + overhead
            chunks.append(StreamChunk(stream, command_id, data))
        if not entry.done or entry.printed:
            return chunks, CommandState(command_id, names.COMMAND_STATE_RUNNING)
        entry.delivered = True
        chunks.append(StreamChunk("stdout", command_id, b"", end=True))
        chunks.append(StreamChunk("stderr", command_id, b"", end=True))
        return chunks, CommandState(command_id, names.COMMAND_STATE_DONE, entry.exit_code)

    def signal(self, command_id: str, code: str) -> None:
        """Ctrl+C or terminate: the process ends and the command is released."""
        entry = self.commands.pop(command_id.upper(), None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()
        self.changes.wake()

    def close(self) -> None:
        for entry in self.commands.values():
            if entry.task is not None:
                entry.task.cancel()
        self.commands.clear()
        self.closed = True
        self.changes.wake()

    def _advance(self, entry: _CmdCommand, steps: Iterator[Step]) -> None:
        """Run until the command ends or sleeps; after a sleep it resumes in a task."""
        for step in steps:
            if isinstance(step, Sleep):
                entry.task = asyncio.get_running_loop().create_task(
                    self._resume(entry, step.seconds, steps)
                )
                break
            if isinstance(step, bytes):
                entry.printed.append(("stdout", step))
            else:
                _record(entry, step)
        self.changes.wake()

    async def _resume(self, entry: _CmdCommand, seconds: float, steps: Iterator[Step]) -> None:
        await asyncio.sleep(min(seconds, _LONGEST_SLEEP_S))
        self._advance(entry, steps)


def _record(entry: _CmdCommand, result: CmdResult) -> None:
    if result.stdout:
        entry.printed.append(("stdout", result.stdout))
    if result.stderr:
        entry.printed.append(("stderr", result.stderr))
    entry.exit_code = result.exit_code


def _words(command: str, arguments: tuple[str, ...]) -> list[str]:
    """The command line split as cmd.exe hands it to a program (close enough for powershell)."""
    try:
        return shlex.split(" ".join([command, *arguments]), posix=False)
    except ValueError:
        return [command, *arguments]

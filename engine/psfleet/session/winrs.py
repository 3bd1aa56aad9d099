"""Commands on the cmd shell (WinRS): stdout, stderr and the exit code of one process."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Sequence

import anyio

from psfleet.errors import PsfleetError
from psfleet.logs import get_logger
from psfleet.session.records import CmdResult
from psfleet.session.shell_ledger import report_possibly_open
from psfleet.session.wsman import ReceiveTimedOut, WSManShell
from psfleet.transport.host import HostTransport
from psfleet.wsman import names

log = get_logger(__name__)

# UTF-8 console output, whatever the host's OEM code page is.
_SHELL_OPTIONS = {"WINRS_CODEPAGE": "65001"}


async def run_cmd(
    transport: HostTransport,
    command: str,
    arguments: Sequence[str] = (),
) -> CmdResult:
    """Create a cmd shell, run one command to its end, and always delete the shell.

    psfleet chooses the ShellId, as for runspace pools: a shell whose Create answer was
    lost can still be deleted by it.
    """
    shell_id = str(uuid.uuid4()).upper()
    shell = WSManShell(transport, names.RESOURCE_CMD)
    try:
        await shell.create(
            shell_id=shell_id,
            input_streams="stdin",
            output_streams="stdout stderr",
            options=_SHELL_OPTIONS,
        )
        return await _run(shell, command, arguments)
    finally:
        await _dispose(shell, shell_id)


async def _run(shell: WSManShell, command: str, arguments: Sequence[str]) -> CmdResult:
    command_id = await shell.command(command, arguments)
    stdout, stderr = bytearray(), bytearray()
    exit_code: int | None = None
    try:
        while True:
            try:
                result = await shell.receive("stdout stderr", command_id)
            except ReceiveTimedOut:
                continue
            for chunk in result.chunks:
                (stdout if chunk.name == "stdout" else stderr).extend(chunk.data)
            if result.state is not None and result.state.done:
                exit_code = result.state.exit_code
                break
    finally:
        # Releases the command on the host; when cancelled, it also kills the process.
        await _shielded(shell.signal(names.SIGNAL_TERMINATE, command_id), shell)
    return CmdResult(shell.host, bytes(stdout), bytes(stderr), exit_code)


async def _dispose(shell: WSManShell, shell_id: str) -> None:
    gone = False
    with anyio.CancelScope(shield=True), anyio.move_on_after(shell.transport.timeouts.close):
        gone = await shell.dispose()
    if not gone:
        report_possibly_open(shell.host, shell_id)


async def _shielded(operation: Awaitable[None], shell: WSManShell) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(shell.transport.timeouts.close):
        try:
            await operation
        except PsfleetError as exc:
            log.warning("cmd shell cleanup failed", host=shell.host, error=repr(exc))

"""CtrlC with real SIGINTs sent to this process: what a Ctrl-C does before and after Enter."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator

import anyio
import pytest

from psfleet.cli.ctrl_c import CtrlC
from psfleet.errors import ProtocolError


def _press_ctrl_c() -> None:
    # The handler runs in the main thread at its next check, before this call returns.
    os.kill(os.getpid(), signal.SIGINT)


class _TypedLine(io.StringIO):
    """stdin for input(): the user types a line; `ctrl_c_while_typing` presses Ctrl-C first."""

    def __init__(self, line: str, *, ctrl_c_while_typing: bool = False) -> None:
        super().__init__(line + "\n")
        self._ctrl_c = ctrl_c_while_typing

    def readline(self, size: int | None = -1) -> str:
        if self._ctrl_c:
            _press_ctrl_c()
        return super().readline(size)


@pytest.fixture
def ctrl_c(monkeypatch: pytest.MonkeyPatch) -> Iterator[CtrlC]:
    monkeypatch.setattr("sys.stdout", io.StringIO())  # the prompt goes here
    with CtrlC() as handler:
        yield handler


def _cancelled(ctrl_c: CtrlC, *, ctrl_c_inside: bool = False) -> bool:
    """Run a block that would take 30 s under ctrl_c.cancel_scope(); was it cancelled?"""

    async def block() -> bool:
        with anyio.fail_after(10):
            async with ctrl_c.cancel_scope() as scope:
                if ctrl_c_inside:
                    _press_ctrl_c()
                await anyio.sleep(30)
        return scope.cancelled_caught

    return anyio.run(block)


def test_ctrl_c_while_the_line_is_typed_raises_keyboard_interrupt(
    ctrl_c: CtrlC, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _TypedLine("Get-Date", ctrl_c_while_typing=True))
    with pytest.raises(KeyboardInterrupt):
        ctrl_c.read_line("PS> ")


def test_ctrl_c_pressed_after_enter_before_the_block_began_cancels_it_at_once(
    ctrl_c: CtrlC, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _TypedLine("Start-Sleep 30"))
    assert ctrl_c.read_line("PS> ") == "Start-Sleep 30"
    _press_ctrl_c()  # no KeyboardInterrupt: the line is read, Ctrl-C is kept for it
    assert _cancelled(ctrl_c)


def test_ctrl_c_pressed_while_the_block_runs_cancels_it(
    ctrl_c: CtrlC, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _TypedLine("Start-Sleep 30"))
    ctrl_c.read_line("PS> ")
    assert _cancelled(ctrl_c, ctrl_c_inside=True)


def test_a_ctrl_c_of_the_line_before_does_not_stop_the_next_one(
    ctrl_c: CtrlC, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", _TypedLine("first"))
    ctrl_c.read_line("PS> ")
    _press_ctrl_c()
    _press_ctrl_c()
    assert _cancelled(ctrl_c)
    monkeypatch.setattr("sys.stdin", _TypedLine("second"))
    ctrl_c.read_line("PS> ")

    async def quick_block() -> bool:
        async with ctrl_c.cancel_scope() as scope:
            await anyio.sleep(0.05)
        return scope.cancelled_caught

    assert anyio.run(quick_block) is False


def test_an_error_of_the_block_comes_out_as_it_is(ctrl_c: CtrlC) -> None:
    async def failing_block() -> None:
        async with ctrl_c.cancel_scope():
            raise ProtocolError("garbled answer", host="node01")

    with pytest.raises(ProtocolError, match="garbled answer"):
        anyio.run(failing_block)


def test_leaving_restores_the_previous_sigint_handler() -> None:
    before = signal.getsignal(signal.SIGINT)
    with CtrlC():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before

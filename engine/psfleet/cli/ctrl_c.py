"""Ctrl-C in `psfleet shell`: at the prompt it drops the line; once Enter is read, it stops it.

Python runs a SIGINT handler in the main thread, at whatever bytecode that thread is at.
With the default handler, the KeyboardInterrupt of a Ctrl-C pressed just after Enter
landed while the main thread was handing the line to the event loop thread (inside the
portal's blocking spawn), outside the code that stops a pipeline: the shell exited 130
with the pipeline started on the host. So the handler here raises only while the prompt
reads a line (pressed as `input` returns a line, it drops that line: it never reaches
the host). Once the line is read, a Ctrl-C is a byte on a socket, kept until the line's
task on the event loop looks (`cancel_scope`), whenever that is: before the task exists,
while its Command is in flight, while records stream.
"""

from __future__ import annotations

import contextlib
import signal
import socket
from collections.abc import AsyncIterator
from types import FrameType, TracebackType
from typing import Any

import anyio


def keep_sigint_off_this_thread() -> None:
    """Block SIGINT in the calling thread and in the threads it starts from now on.

    The kernel may deliver a process's signal to any thread that does not block it, and
    Python only notices it in the main thread: if the event loop thread took Ctrl-C, the
    main thread, asleep waiting for the line to end, would run the handler at that end.
    """
    if hasattr(signal, "pthread_sigmask"):  # not on Windows, where the console thread gets it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


class CtrlC:
    """The shell's SIGINT handler while the `with` block runs (enter it in the main thread)."""

    def __init__(self) -> None:
        self._pressed, self._press = socket.socketpair()
        self._pressed.setblocking(False)
        self._press.setblocking(False)
        self._prompting = False
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        signal.signal(signal.SIGINT, self._previous)
        self._pressed.close()
        self._press.close()

    def read_line(self, prompt: str) -> str:
        """`input(prompt)`; a Ctrl-C before the line is read raises KeyboardInterrupt."""
        try:
            self._prompting = True
            # Ctrl-Cs pressed for the line before are spent; while prompting, none is added.
            self._drain()
            return input(prompt)
        finally:
            self._prompting = False

    @contextlib.asynccontextmanager
    async def cancel_scope(self) -> AsyncIterator[anyio.CancelScope]:
        """A scope that Ctrl-C cancels, pressed after the current line was read: at once if
        it was pressed before the block began. Errors of the block come out as they are."""
        with anyio.CancelScope() as scope:
            try:
                async with anyio.create_task_group() as watch:
                    watch.start_soon(self._cancel_when_pressed, scope)
                    yield scope
                    watch.cancel_scope.cancel()
            except BaseExceptionGroup as group:
                if len(group.exceptions) == 1:  # the watcher raises nothing: the block's error
                    raise group.exceptions[0] from None
                raise

    async def _cancel_when_pressed(self, scope: anyio.CancelScope) -> None:
        await anyio.wait_readable(self._pressed)
        scope.cancel()

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._pressed.recv(64):
                pass

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._prompting:
            # One KeyboardInterrupt per prompt: a second Ctrl-C must not raise in the middle
            # of handling the first.
            self._prompting = False
            raise KeyboardInterrupt
        with contextlib.suppress(OSError):  # a full buffer already holds enough Ctrl-Cs
            self._press.send(b"\x03")

"""One PowerShell pipeline on a runspace pool: start it, stream its records, stop it.

A pipeline is an async iterator of records. It starts on first use: WSMan Command
carries the CreatePipeline, Send carries input, and Receive long polls bring the
records back until the pipeline reaches a final state. If the caller is cancelled
(or stops early), the pipeline is stopped on the host: Signal, then Receives until
the host says Stopped, all shielded and bounded by the close timeout.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import anyio
import psrpcore
import structlog

from psfleet.errors import ProtocolError, PsfleetError
from psfleet.events import RecordEvent
from psfleet.session import psrp
from psfleet.session.decode import FINAL_STATES, error_record, record_of
from psfleet.session.records import ErrorRecord, PipelineResult, PipelineState
from psfleet.session.wsman import ReceiveTimedOut, WSManShell
from psfleet.wsman import names

log = structlog.get_logger(__name__)


class Pipeline:
    """`async for record in pipeline`, or `await pipeline.result()`."""

    def __init__(
        self,
        pool: psrpcore.ClientRunspacePool,
        shell: WSManShell,
        runspaces: anyio.Semaphore,
        script: str,
        args: tuple[Any, ...],
        *,
        input: Iterable[Any] | None,
        parameters: Mapping[str, Any] | None,
    ) -> None:
        self._pool = pool
        self._shell = shell
        self._runspaces = runspaces
        self._script = script
        self._args = args
        self._input = input
        self._parameters = parameters or {}
        self._ps: psrpcore.ClientPowerShell | None = None
        self._command_id: str | None = None
        self._holds_runspace = False
        self._pending: deque[RecordEvent] = deque()
        self.state: PipelineState | None = None
        self.reason: ErrorRecord | None = None

    def __repr__(self) -> str:
        return f"Pipeline(host={self.host!r}, command_id={self._command_id!r}, state={self.state})"

    @property
    def host(self) -> str:
        return self._shell.host

    async def start(self) -> None:
        """Create the pipeline on the host (waits for a free runspace of the pool)."""
        if self._ps is not None:
            return
        await self._runspaces.acquire()
        self._holds_runspace = True
        try:
            await self._create()
        except BaseException:
            await self.aclose()
            raise

    async def _create(self) -> None:
        no_input = self._input is None
        ps = psrpcore.ClientPowerShell(self._pool, no_input=no_input)
        ps.add_script(self._script)
        for arg in self._args:
            ps.add_argument(arg)
        for name, value in self._parameters.items():
            ps.add_parameter(name, value)
        key = psrp.pipeline_key(self._script, self._args, dict(self._parameters), no_input)
        psrp.start_pipeline(self._pool, ps, key)
        self._ps = ps
        limit = psrp.fragment_limit(self._shell.send_envelope_size)
        # The CreatePipeline alone goes in the Command; input follows in Sends.
        create = psrp.take_payloads(self._pool, limit)
        if self._input is not None:
            for item in self._input:
                ps.send(item)
            ps.send_eof()
        rest = create[1:] + psrp.take_payloads(self._pool, limit)
        command_id = str(ps.pipeline_id).upper()
        self._command_id = await self._shell.command(
            "", [psrp.as_argument(create[0])], command_id=command_id
        )
        for payload in rest:
            await self._shell.send(psrp.as_send_chunks([payload], self._command_id))

    def __aiter__(self) -> Pipeline:
        return self

    async def __anext__(self) -> RecordEvent:
        await self.start()
        while not self._pending:
            if self.state is not None:
                raise StopAsyncIteration
            try:
                await self._receive_once()
            except BaseException:
                await self.aclose()
                raise
        return self._pending.popleft()

    async def _receive_once(self) -> None:
        assert self._ps is not None
        try:
            result = await self._shell.receive("stdout", self._command_id)
        except ReceiveTimedOut:
            return
        for event in psrp.feed(self._pool, result.chunks, self._ps.pipeline_id):
            record = record_of(event, self.host)
            if record is not None:
                self._pending.append(record)
            elif isinstance(event, psrpcore.PipelineStateEvent) and event.state in FINAL_STATES:
                reason = event.reason
                self._finish(FINAL_STATES[event.state], reason)
        if self.state is None and result.state is not None and result.state.done:
            raise ProtocolError("the command ended without a final pipeline state", host=self.host)

    def _finish(self, state: PipelineState, reason: Any = None) -> None:
        self.state = state
        self.reason = error_record(reason, self.host) if reason is not None else None
        self._release()

    def _release(self) -> None:
        if self._holds_runspace:
            self._holds_runspace = False
            self._runspaces.release()
        if self._ps is not None and self._ps.pipeline_id in self._pool.pipeline_table:
            if self._ps.state == psrpcore.types.PSInvocationState.Running:
                self._ps.begin_stop()
            self._ps.close()

    async def aclose(self) -> None:
        """Stop the pipeline on the host if it is still running; shielded and bounded."""
        if self.state is None and self._command_id is not None:
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(self._shell.transport.timeouts.close),
            ):
                try:
                    await self._shell.signal(names.SIGNAL_PS_CTRL_C, self._command_id)
                    while self.state is None:
                        await self._receive_once()
                except PsfleetError as exc:
                    log.warning("pipeline stop failed", host=self.host, error=repr(exc))
        if self.state is None:
            self.state = PipelineState.STOPPED
        self._release()

    async def __aenter__(self) -> Pipeline:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def result(self) -> PipelineResult:
        """Run to the end and collect every record (bound it with anyio.fail_after)."""
        result = PipelineResult(self.host)
        async for record in self:
            result.add(record)
        result.state = self.state
        result.reason = self.reason
        return result

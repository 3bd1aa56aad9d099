"""One PowerShell pipeline on a runspace pool: start it, stream its records, stop it.

A pipeline is an async iterator of records. It starts on first use: WSMan Command
carries the CreatePipeline, Send carries input, and Receive long polls bring the
records back until the pipeline reaches a final state. If the caller is cancelled
(or stops early), the pipeline is stopped on the host: Signal, then Receives until
the host says Stopped, all shielded and bounded by the close timeout.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio

from psfleet.errors import ProtocolError, PsfleetError, ShellNotFound
from psfleet.events import RecordEvent
from psfleet.logs import get_logger
from psfleet.session import psrp
from psfleet.session.decode import FINAL_STATES, record_of, state_of
from psfleet.session.psrp import MessageType
from psfleet.session.records import ErrorRecord, PipelineResult, PipelineState
from psfleet.session.session_key import exchange_session_key
from psfleet.session.wsman import ReceiveTimedOut, WSManShell
from psfleet.transport.receipt import Receipt
from psfleet.wsman import names
from psfleet.wsman.shell import StreamChunk

log = get_logger(__name__)


@dataclass(slots=True)
class PoolLink:
    """What the pipelines of a pool share with it."""

    pool_id: uuid.UUID
    shell: WSManShell
    fragmenter: psrp.Fragmenter
    runspaces: anyio.Semaphore
    cipher: Any  # holds the session key for SecureStrings, once exchanged
    protocol_version: str | None = None
    key_lock: anyio.Lock = field(default_factory=anyio.Lock)
    has_session_key: bool = False

    def chunk(self, payload: bytes, command_id: str | None) -> StreamChunk:
        return StreamChunk("stdin", command_id, payload)

    def payloads(self, messages: list[bytes]) -> list[bytes]:
        return self.fragmenter.payloads(
            messages, psrp.fragment_limit(self.shell.send_envelope_size)
        )


class Pipeline:
    """`async for record in pipeline`, or `await pipeline.result()`."""

    def __init__(
        self,
        link: PoolLink,
        script: str,
        args: tuple[Any, ...],
        *,
        input: Iterable[Any] | None,
        parameters: Mapping[str, Any] | None,
        streamed_input: bool = False,
    ) -> None:
        self._link = link
        self._streamed_input = streamed_input
        self._shell = link.shell
        self._script = script
        self._args = args
        self._input = input
        self._parameters = parameters or {}
        self.id = uuid.uuid4()
        self._command_id: str | None = None  # once the host answered the Command
        self._command_sent = Receipt()  # the Command went out: the host may run it
        self._started = False
        self._holds_runspace = False
        self._defragmenter = psrp.Defragmenter()
        self._pending: deque[RecordEvent] = deque()
        self.state: PipelineState | None = None
        self.reason: ErrorRecord | None = None
        self._attach = False

    @classmethod
    def attached(cls, link: PoolLink, pipeline_id: uuid.UUID) -> Pipeline:
        """A pipeline already running on the host (started by an earlier client): `start`
        Connects to its command instead of creating it. Cancelled while iterated, it is
        left running: its caller disconnects the pool again (or deletes it)."""
        pipeline = cls(link, "", (), input=None, parameters=None)
        pipeline.id = pipeline_id
        pipeline._attach = True
        return pipeline

    def __repr__(self) -> str:
        return f"Pipeline(host={self.host!r}, command_id={self._command_id!r}, state={self.state})"

    @property
    def command_id(self) -> str | None:
        """The WSMan CommandId once started (the pipeline id, upper case)."""
        return self._command_id

    @property
    def host(self) -> str:
        return self._shell.host

    async def start(self) -> None:
        """Create the pipeline on the host (waits for a free runspace of the pool)."""
        if self._started:
            return
        self._started = True
        await self._link.runspaces.acquire()
        self._holds_runspace = True
        try:
            if self._attach:
                self._command_id = str(self.id).upper()
                await self._shell.connect_command(self._command_id)
            else:
                await self._create()
        except BaseException:
            await self.aclose()
            raise

    async def _create(self) -> None:
        link = self._link
        try:
            xml, inputs = self._serialized()
        except psrp.SessionKeyNeeded:
            await exchange_session_key(link)
            xml, inputs = self._serialized()
        create = psrp.message(MessageType.CreatePipeline, link.pool_id, self.id, xml)
        # The CreatePipeline alone goes in the Command; input follows in Sends.
        first, *rest = link.payloads([create])
        if inputs is not None:
            messages = [
                psrp.message(MessageType.PipelineInput, link.pool_id, self.id, item)
                for item in inputs
            ]
            messages.append(
                psrp.message(MessageType.EndOfPipelineInput, link.pool_id, self.id, b"")
            )
            rest += link.payloads(messages)
        self._command_id = await self._shell.command(
            "",
            [psrp.as_argument(first)],
            command_id=self._chosen_command_id,
            receipt=self._command_sent,
        )
        for payload in rest:
            await self._shell.send([link.chunk(payload, self._command_id)])

    def _serialized(self) -> tuple[bytes, list[bytes] | None]:
        """The CreatePipeline XML and each input item's; SessionKeyNeeded for a SecureString."""
        link = self._link
        version = link.protocol_version
        xml = psrp.create_pipeline(
            self._script,
            self._args,
            self._parameters,
            no_input=self._input is None and not self._streamed_input,
            protocol_version=version,
            cipher=link.cipher,
        )
        if self._input is None:
            return xml, None
        if not isinstance(self._input, list | tuple):
            self._input = list(self._input)  # a generator could not be read a second time
        return xml, [psrp.pipeline_input(item, version, link.cipher) for item in self._input]

    @property
    def _chosen_command_id(self) -> str:
        """The CommandId psfleet asks for: the host's answer is not needed to address it."""
        return str(self.id).upper()

    async def send_input(self, serialized: Sequence[bytes], *, end: bool = False) -> None:
        """Send input items already serialized as CLIXML, for `streamed_input=True` pipelines.

        A file pushed to many hosts serializes each chunk once for all of them; only the
        PSRP and WSMan framing is per host. `end` sends EndOfPipelineInput after them.
        """
        await self.start()
        link = self._link
        messages = [
            psrp.message(MessageType.PipelineInput, link.pool_id, self.id, data)
            for data in serialized
        ]
        if end:
            messages.append(
                psrp.message(MessageType.EndOfPipelineInput, link.pool_id, self.id, b"")
            )
        for payload in link.payloads(messages):
            await self._shell.send([link.chunk(payload, self._command_id)])

    async def send_encoded_input(self, item: psrp.EncodedData) -> None:
        """Send one input item whose base64 is shared by every host it goes to: this pool
        encodes only the fragment and message headers (a push's chunks)."""
        await self.start()
        link = self._link
        limit = psrp.fragment_limit(self._shell.send_envelope_size)
        text = link.fragmenter.whole_text(
            MessageType.PipelineInput, link.pool_id, self.id, item, limit
        )
        if text is None:  # larger than one fragment: framed as any other input
            await self.send_input([item.data])
            return
        await self._shell.send([StreamChunk("stdin", self._command_id, b"", text=text)])

    def __aiter__(self) -> Pipeline:
        return self

    async def __anext__(self) -> RecordEvent:
        await self.start()
        while not self._pending:
            if self.state is not None:
                raise StopAsyncIteration
            try:
                if await self._receive_once(self._command_id) and self.state is None:
                    raise ProtocolError(
                        "the command ended without a final pipeline state", host=self.host
                    )
            except anyio.get_cancelled_exc_class():
                if not self._attach:
                    await self.aclose()
                raise
            except BaseException:
                await self.aclose()
                raise
        return self._pending.popleft()

    async def _receive_once(self, command_id: str | None) -> bool:
        """One Receive; True when the host says the command is done."""
        try:
            result = await self._shell.receive("stdout", command_id)
        except ReceiveTimedOut:
            return False
        for chunk in result.chunks:
            for message in self._defragmenter.feed(chunk.data):
                self._on_message(message)
        return result.state is not None and result.state.done

    def _on_message(self, message: psrp.Message) -> None:
        if message.pipeline_id not in (self.id, None):
            raise ProtocolError("a message for another pipeline", host=self.host)
        record = record_of(message, self.host, self._link.cipher)
        if record is not None:
            self._pending.append(record)
        elif message.type == MessageType.PipelineState:
            state, reason = state_of(message.data, "PipelineState", self.host)
            if state in FINAL_STATES:
                self.state, self.reason = FINAL_STATES[state], reason
                self._release()
        elif message.type in (MessageType.PipelineHostCall, MessageType.PublicKeyRequest):
            # The pool declares no host UI and sends no SecureStrings: nothing should ask.
            log.warning("unanswered PSRP request", host=self.host, message_type=message.type)

    def _release(self) -> None:
        if self._holds_runspace:
            self._holds_runspace = False
            self._link.runspaces.release()

    async def aclose(self) -> None:
        """Stop the pipeline on the host if it may be running; shielded and bounded.

        A Command whose answer never came (cancelled, timed out) is stopped by the id
        psfleet chose for it; the pool's Delete ends it too when the shell goes.
        """
        command_id = self._command_id
        if command_id is None and self._command_sent.sent:
            command_id = self._chosen_command_id
        if self.state is None and command_id is not None:
            timeouts = self._shell.transport.timeouts
            with anyio.CancelScope(shield=True), anyio.move_on_after(timeouts.close):
                try:
                    await self._stop(command_id)
                except ShellNotFound:
                    pass  # the host knows no such command (or shell): nothing is left to stop
                except PsfleetError as exc:
                    log.warning("pipeline stop failed", host=self.host, error=repr(exc))
        if self.state is None:
            self.state = PipelineState.STOPPED
        self._release()

    async def _stop(self, command_id: str) -> None:
        """Signal Ctrl+C, then Receive until the host has ended the command."""
        await self._shell.signal(names.SIGNAL_PS_CTRL_C, command_id)
        while self.state is None and not await self._receive_once(command_id):
            pass

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

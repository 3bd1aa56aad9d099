"""A PowerShell (PSRP) shell on a simulated host: a psrpcore server pool and its pipelines."""

from __future__ import annotations

import asyncio
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from xml.etree import ElementTree

import psrpcore
from psrpcore.types import (
    PipelineResultTypes,
    PSInvocationState,
    PSRPMessageType,
    RunspacePoolState,
)

from psfleet.errors import ProtocolError
from psfleet.simfleet import minips
from psfleet.simfleet.answers import AnswerCache, Message, Recorder, create_pipeline_of, frame
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import items
from psfleet.simfleet.open_answers import OpenAnswer, OpenAnswers, open_key, pool_id_of
from psfleet.simfleet.outbox import Outbox, message_type_of, pipeline_id_of, split_fragments
from psfleet.simfleet.pipeline_input import StreamedInput
from psfleet.simfleet.plain_strings import plain_string_clixml, plain_string_input
from psfleet.simfleet.psrp_output import command_specs, emit, finish
from psfleet.wsman import names

_MALFORMED_PSRP = (
    psrpcore.PSRPCoreError,
    struct.error,
    ElementTree.ParseError,
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AttributeError,
)

# What a pool Connect answers in connectResponseXml (Windows: these two, in this order).
_CONNECT_ANSWER = frozenset(
    {PSRPMessageType.SessionCapability.value, PSRPMessageType.RunspacePoolInitData.value}
)
# Output kept per pipeline before the script waits for the client to Receive (Windows'
# OutputBufferingMode Block: a disconnected pipeline pauses when its buffer is full).
_BACKPRESSURE_BYTES = 1 << 20
_LONGEST_SLEEP_S = 3600.0
# What a pool's opening alone gives: the answer is then the same for every host.
_OPENING_EVENTS = [psrpcore.SessionCapabilityEvent, psrpcore.InitRunspacePoolEvent]
_FIRST_OBJECT_ID = 1  # psrpcore's first object id on a new pool


@dataclass(eq=False)
class _Command:
    command_id: str
    pipeline_id: uuid.UUID
    pipeline: psrpcore.ServerPipeline | None  # None for a replayed answer: psrpcore never saw it
    input: list[Any] | StreamedInput = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    recorder: Recorder | None = None  # records the answer of a cacheable first run
    done: bool = False


@dataclass(eq=False)
class _ReplayedOpening:
    """A pool opened from a recorded answer (open_answers.py): psrpcore has not seen the
    client's creationXml yet, and gets it only when something needs the pool itself."""

    creation_xml: bytes
    pool_id: uuid.UUID
    next_object_id: int  # psrpcore's would be this after the recorded answer
    object_ids_used: int = 0  # handed out since, by replayed pipeline answers


class PsrpShell:
    """One runspace pool. Feed it the client's fragments; Receive drains the outbox."""

    kind = "psrp"

    def __init__(
        self,
        shell_id: str,
        context: SessionContext,
        *,
        fragment_size: int,
        on_execution: Callable[[bool], None],
        answers: AnswerCache,
        openings: OpenAnswers,
    ) -> None:
        self.shell_id = shell_id
        self.context = context
        self.fragment_size = fragment_size
        self._on_execution = on_execution
        self._answers = answers
        self._openings = openings
        self._pool: psrpcore.ServerRunspacePool | None = None
        self._replayed_opening: _ReplayedOpening | None = None
        self.outbox = Outbox()
        self.commands: dict[str, _Command] = {}
        self._by_pipeline: dict[uuid.UUID, _Command] = {}
        self.closed = False
        self.disconnected = False  # no client: pipelines run on, output waits (Block mode)

    @property
    def running_commands(self) -> int:
        return sum(1 for c in self.commands.values() if not c.done)

    @property
    def pool(self) -> psrpcore.ServerRunspacePool:
        """psrpcore's pool, made to have processed the creationXml of a replayed opening."""
        if self._pool is None:
            self._pool = psrpcore.ServerRunspacePool()
            if self._replayed_opening is not None:
                self._catch_up(self._pool, self._replayed_opening)
        return self._pool

    def open(self, creation_xml: bytes) -> None:
        pool_id = pool_id_of(creation_xml)
        key = open_key(creation_xml, pool_id, self.fragment_size) if pool_id else None
        answer = self._openings.get(key) if key is not None else None
        if pool_id is not None and answer is not None:
            fragments = answer.for_pool(pool_id)
            opened = sum(message_type_of(f) is not None for f in fragments)
            self._replayed_opening = _ReplayedOpening(
                creation_xml, pool_id, _FIRST_OBJECT_ID + opened
            )
            for fragment in fragments:
                self.outbox.put(None, fragment)
            self.outbox.wake()
            return
        events = self._receive(creation_xml, psrpcore.StreamType.default, None)
        for event in events:
            self._on_event(event)
        fragments = self._pump()
        opened = self.pool.state == RunspacePoolState.Opened
        if key is not None and pool_id is not None and opened and _is_opening(events):
            self._openings.put(key, OpenAnswer(pool_id, tuple(fragments)))

    def command(self, command_id: str | None, arguments: bytes) -> str:
        """Create the pipeline of a CreatePipeline fragment; start it unless input is due."""
        pipeline_id = pipeline_id_of(arguments)
        if pipeline_id is None:
            raise ProtocolError("Command arguments hold no CreatePipeline fragment")
        command_id = (command_id or str(pipeline_id)).upper()
        if command_id in self.commands or pipeline_id in self._by_pipeline:
            raise ProtocolError(f"the pipeline {pipeline_id} already exists")
        whole = create_pipeline_of(arguments)
        key = (self.context.delegable, whole[1]) if whole is not None else None
        answer = self._answers.get(key) if key is not None else None
        if answer is not None:
            self._replay(_Command(command_id, pipeline_id, None), answer)
            return command_id
        # psrpcore needs the pipeline to exist before its CreatePipeline message is processed.
        pipeline = psrpcore.ServerPipeline(self.pool, pipeline_id)
        command = self._add(_Command(command_id, pipeline_id, pipeline))
        try:
            self._feed(arguments, psrpcore.StreamType.default, pipeline_id)
            if pipeline.metadata is None:
                raise ProtocolError("Command arguments hold no CreatePipeline message")
        except ProtocolError:
            self._forget(command)
            raise
        if pipeline.metadata.no_input:
            if key is not None and _cacheable(pipeline):
                command.recorder = Recorder(key)
            self._start(command)
        elif minips.streams_input(command_specs(pipeline)):
            command.input = StreamedInput()
            self._start(command)
        return command_id

    async def input_room(self, command_id: str | None) -> None:
        """A Send returns once the script has caught up with its streamed input."""
        command = self.commands.get(command_id.upper()) if command_id else None
        if command is not None and isinstance(command.input, StreamedInput):
            await command.input.room()

    def send(self, command_id: str | None, stream: str, data: bytes) -> None:
        command = self.commands.get(command_id.upper()) if command_id else None
        if stream == "pr":
            self._feed(
                data, psrpcore.StreamType.prompt_response, command.pipeline_id if command else None
            )
            return
        if command is not None and command.pipeline is not None:
            item = plain_string_input(data, command.pipeline_id)
            if item is not None:  # a pushed chunk: what psrpcore would hand over, sooner
                command.input.append(item)
                return
        self._feed(data, psrpcore.StreamType.default, command.pipeline_id if command else None)

    def signal(self, command_id: str, code: str) -> None:
        """Signal, as Windows: terminate forgets the command; Ctrl+C stops it if it still
        runs, and either way its output and final state stay for the client's Receives."""
        command = self.commands.get(command_id.upper())
        if command is None:
            return
        if code == names.SIGNAL_TERMINATE:
            self._stop(command)
            self._forget(command)
        elif not command.done:
            self._stop(command)

    def _stop(self, command: _Command) -> None:
        if command.task is not None:
            command.task.cancel()
        pipeline = command.pipeline
        if pipeline is not None and not command.done:
            if pipeline.state == PSInvocationState.NotStarted:
                pipeline.start()  # still waiting for its input: it ends Stopped all the same
            if pipeline.state == PSInvocationState.Running:
                pipeline.stop()
        command.done = True
        command.recorder = None
        self._pump()

    def disconnect(self) -> None:
        """Disconnect: the client goes; pipelines keep running, output stays buffered."""
        if not self.disconnected:
            self.pool.disconnect()
            self.disconnected = True
            self.outbox.wake()  # a poll of the client that left ends

    def reconnect(self) -> None:
        """Reconnect: the client that disconnected comes back, state and ids unchanged."""
        if self.disconnected:
            self.pool.reconnect()
            self.disconnected = False

    def connect(self, connect_xml: bytes) -> bytes:
        """Connect: a new client attaches with SessionCapability + ConnectRunspacePool.

        Returns connectResponseXml: the host's SessionCapability and RunspacePoolInitData,
        as Windows answers; ApplicationPrivateData waits in the pool's outbox for the
        client's first Receive (pypsrp's recorded `test_psrp_disconnected_commands`).
        """
        if not self.disconnected:
            raise ProtocolError("the runspace pool is connected to another client")
        self.pool.connect()
        self.disconnected = False
        # psrpcore's server answers a connect without its capability; Windows sends it.
        self.pool.prepare_message(self.pool.our_capability)
        self._receive(connect_xml, psrpcore.StreamType.default, None)  # psrpcore answers it
        answer = bytearray()
        while (payload := self.pool.data_to_send(self.fragment_size)) is not None:
            for fragment in split_fragments(payload.data):
                kind = message_type_of(fragment) if payload.pipeline_id is None else None
                if kind in _CONNECT_ANSWER:
                    answer += fragment
                elif kind != PSRPMessageType.RunspacePoolState.value:
                    # Windows sends no state after a Connect: ApplicationPrivateData only.
                    self.outbox.put(payload.pipeline_id, fragment)
        self.outbox.wake()
        return bytes(answer)

    def delivered(self, command: _Command) -> None:
        """The client received the pipeline's end: the command is over, as on Windows."""
        self._forget(command)

    def close(self) -> None:
        for command in self.commands.values():
            if command.task is not None:
                command.task.cancel()
        self.commands.clear()
        self._by_pipeline.clear()
        self.closed = True
        self.outbox.wake()

    def target_of(self, command_id: str | None) -> tuple[uuid.UUID | None, _Command | None]:
        if command_id is None:
            return None, None
        command = self.commands.get(command_id.upper())
        if command is None:
            raise KeyError(command_id)
        return command.pipeline_id, command

    # --- internals ---------------------------------------------------------------------

    def _add(self, command: _Command) -> _Command:
        self.commands[command.command_id] = command
        self._by_pipeline[command.pipeline_id] = command
        return command

    def _forget(self, command: _Command) -> None:
        self.commands.pop(command.command_id, None)
        self._by_pipeline.pop(command.pipeline_id, None)
        self.outbox.discard(command.pipeline_id)
        if command.pipeline is not None and command.pipeline.state != PSInvocationState.Running:
            command.pipeline.close()

    def _replay(self, command: _Command, answer: tuple[Message, ...]) -> None:
        self._on_execution(True)
        command.done = True
        self._add(command)

        fragments = frame(
            answer,
            self._pool_id(),
            command.pipeline_id,
            self._next_object_id,
            self.fragment_size,
        )
        for fragment in fragments:
            self.outbox.put(command.pipeline_id, fragment)
        self.outbox.wake()

    def _pool_id(self) -> uuid.UUID:
        opening = self._replayed_opening
        if self._pool is None and opening is not None:
            return opening.pool_id
        return self.pool.runspace_pool_id

    def _next_object_id(self) -> int:
        """The pool hands out object ids, so that ours never clash with psrpcore's."""
        opening = self._replayed_opening
        if self._pool is None and opening is not None:
            opening.object_ids_used += 1
            return opening.next_object_id + opening.object_ids_used - 1
        return _take_object_id(self.pool)

    def _catch_up(self, pool: psrpcore.ServerRunspacePool, opening: _ReplayedOpening) -> None:
        """Bring a fresh pool to where a replayed opening left the client: the creationXml
        processed, its answer (already sent, from the record) dropped, the object ids that
        replayed pipeline answers used taken."""
        self._pool = pool
        self._receive(opening.creation_xml, psrpcore.StreamType.default, None)
        while pool.data_to_send(self.fragment_size) is not None:
            pass
        for _ in range(opening.object_ids_used):
            _take_object_id(pool)

    def _feed(self, data: bytes, stream_type: Any, pipeline_id: uuid.UUID | None) -> None:
        for event in self._receive(data, stream_type, pipeline_id):
            self._on_event(event)
        self._pump()

    def _receive(self, data: bytes, stream_type: Any, pipeline_id: uuid.UUID | None) -> list[Any]:
        events = []
        try:
            self.pool.receive_data(psrpcore.PSRPPayload(data, stream_type, pipeline_id))
            while (event := self.pool.next_event()) is not None:
                events.append(event)
        except _MALFORMED_PSRP as exc:
            # Whatever psrpcore trips on in bytes from the wire is the client's error.
            raise ProtocolError(f"invalid PSRP data: {type(exc).__name__}: {exc}") from exc
        return events

    def _on_event(self, event: Any) -> None:
        if isinstance(event, psrpcore.PipelineInputEvent):
            command = self._by_pipeline.get(event.pipeline_id)
            if command is not None:
                command.input.append(event.data)
        elif isinstance(event, psrpcore.EndOfPipelineInputEvent):
            command = self._by_pipeline.get(event.pipeline_id)
            if command is not None and isinstance(command.input, StreamedInput):
                command.input.end()
            elif command is not None and command.task is None:
                self._start(command)
        elif isinstance(event, psrpcore.GetAvailableRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, self.pool.max_runspaces)
        elif isinstance(event, psrpcore.SetMaxRunspacesEvent | psrpcore.SetMinRunspacesEvent):
            self.pool.runspace_availability_response(event.ci, True)

    def _start(self, command: _Command) -> None:
        self._on_execution(False)
        command.task = asyncio.get_running_loop().create_task(self._run(command))

    async def _run(self, command: _Command) -> None:
        pipeline = command.pipeline
        assert pipeline is not None
        specs = command_specs(pipeline)
        errors_to_output = _errors_merged_to_output(pipeline)
        # Windows sends no Running state for a pipeline; psrpcore's start() would.
        pipeline._change_state(PSInvocationState.Running, emit=False)
        finished = False
        run = minips.run_commands(specs, self.context, input=command.input)
        try:
            for item in run:
                if isinstance(item, items.AwaitInput):
                    assert isinstance(command.input, StreamedInput)
                    await command.input.arrived()
                    continue
                if isinstance(item, items.Sleep):
                    await asyncio.sleep(min(item.seconds, _LONGEST_SLEEP_S))
                    continue
                if isinstance(item, items.Finished):
                    finish(pipeline, item)
                    finished = True
                    break
                if errors_to_output and isinstance(item, items.Error):
                    emit(pipeline, items.Output(item.record), self.context)
                elif not self._emit_plain_string(command, item):
                    emit(pipeline, item, self.context)
                self._pump()
                if self.outbox.pending(command.pipeline_id) > _BACKPRESSURE_BYTES:
                    await self.outbox.wait(
                        lambda: self.outbox.pending(command.pipeline_id) < _BACKPRESSURE_BYTES,
                        _LONGEST_SLEEP_S,
                    )
        finally:
            run.close()  # now, not at garbage collection: a stopped run closes its files
            if isinstance(command.input, StreamedInput):
                command.input.close()
            command.done = True
            self._pump()
        recorder = command.recorder
        if finished and recorder is not None and recorder.replayable:
            self._answers.put(recorder.key, recorder.messages)

    def _emit_plain_string(self, command: _Command, item: items.Item) -> bool:
        """Queue a long base64 output string framed here rather than by psrpcore (the same
        bytes, without psrpcore's escaping passes: plain_strings); False if it is not one."""
        body = plain_string_clixml(item.value) if isinstance(item, items.Output) else None
        if body is None:
            return False
        self._pump()  # what psrpcore holds goes out first, in order
        message = (PSRPMessageType.PipelineOutput.value, body)
        fragments = frame(
            (message,),
            self._pool_id(),
            command.pipeline_id,
            self._next_object_id,
            self.fragment_size,
        )
        for fragment in fragments:
            self.outbox.put(command.pipeline_id, fragment)
            if command.recorder is not None:
                command.recorder.add(fragment)
        return True

    def _pump(self) -> list[bytes]:
        """Queue what psrpcore has to send for the client's Receives; returns it."""
        queued: list[bytes] = []
        if self._pool is None:
            return queued  # a replayed opening: psrpcore has produced nothing yet
        while (payload := self._pool.data_to_send(self.fragment_size)) is not None:
            command = self._by_pipeline.get(payload.pipeline_id) if payload.pipeline_id else None
            recorder = command.recorder if command is not None else None
            for fragment in split_fragments(payload.data):
                self.outbox.put(payload.pipeline_id, fragment)
                queued.append(fragment)
                if recorder is not None:
                    recorder.add(fragment)
        self.outbox.wake()
        return queued


def _take_object_id(pool: psrpcore.ServerRunspacePool) -> int:
    # psrpcore's counter of object ids (read = taken); it has no public way to share it.
    return int(cast(Any, pool)._fragment_counter)


def _is_opening(events: list[Any]) -> bool:
    return [type(event) for event in events] == _OPENING_EVENTS


def _cacheable(pipeline: psrpcore.ServerPipeline) -> bool:
    """Its output is a function of host and delegation alone (no clock, no sleep, no user)."""
    return all(minips.is_cacheable(c.command_text) for c in cast(Any, pipeline.metadata).commands)


def _errors_merged_to_output(pipeline: psrpcore.ServerPipeline) -> bool:
    """The client redirected errors to output (2>&1): MergeError, or v2's MergeMyResult."""
    output = PipelineResultTypes.Output
    return any(
        c.merge_error == output
        or (c.merge_my == PipelineResultTypes.Error and c.merge_to == output)
        for c in cast(Any, pipeline.metadata).commands
    )

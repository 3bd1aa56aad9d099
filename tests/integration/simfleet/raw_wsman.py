"""A bare WSMan peer for the simfleet tests: requests, psfleet.wsman builders and psrpcore.

Basic auth over plain HTTP (fleets started with allow_unencrypted) keeps the bytes on the
wire as the test wrote them, so a test can send exactly what it means, malformed or not.
"""

from __future__ import annotations

import base64
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import psrpcore
import requests
from psrpcore.types import PSInvocationState, PSRPMessageType, RunspacePoolState

from psfleet.wsman import Envelope, Fault, build_request, names, parse_envelope, parse_fault, shell

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
SOAP = "application/soap+xml;charset=UTF-8"
_FRAGMENT = struct.Struct(">QQBI")  # object id, fragment id, start/end flags, length
MAX_POLLS = 500  # Receive requests one helper call makes before it gives up


class Addressed(Protocol):
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def envelope(self) -> Envelope:
        return parse_envelope(self.body)

    @property
    def fault(self) -> Fault | None:
        if self.status == 401 or not self.body:
            return None
        envelope = self.envelope
        return parse_fault(envelope) if envelope.is_fault else None

    @property
    def fault_code(self) -> int | None:
        fault = self.fault
        return fault.code if fault else None


def psrp_message_types(envelope: Envelope) -> list[str]:
    """The PSRP message types that start in a response's streams, in order (no decoding)."""
    types: list[str] = []
    if envelope.body is None:
        return types
    for stream in envelope.body.iter(f"{{{names.NS_SHELL}}}Stream"):
        data = base64.b64decode(stream.text or "")
        position = 0
        while position + _FRAGMENT.size <= len(data):
            _, _, flags, length = _FRAGMENT.unpack_from(data, position)
            start = position + _FRAGMENT.size
            if flags & 1:
                (kind,) = struct.unpack_from("<I", data, start + 4)
                types.append(PSRPMessageType(kind).name)
            position = start + length
    return types


class RawPeer:
    """One HTTP connection (a requests.Session) to one simulated host."""

    def __init__(
        self,
        host: Addressed,
        *,
        user: str = USER,
        password: str = PASSWORD,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = f"http://{host.address}:{host.port}/wsman"
        self.http = requests.Session()
        self.http.auth = (user, password)
        self.timeout_s = timeout_s

    def close(self) -> None:
        self.http.close()

    def post(self, body: bytes, *, content_type: str = SOAP) -> Answer:
        response = self.http.post(
            self.url, data=body, headers={"Content-Type": content_type}, timeout=self.timeout_s
        )
        return Answer(response.status_code, response.content)

    def call(
        self,
        action: str,
        body: str,
        *,
        resource: str = names.RESOURCE_CMD,
        shell_id: str | None = None,
        operation_timeout_s: float = 20,
        max_envelope_size: int = names.DEFAULT_MAX_ENVELOPE_SIZE,
        options: dict[str, str] | None = None,
    ) -> Answer:
        envelope, _ = build_request(
            action=action,
            to=self.url,
            resource_uri=resource,
            body=body,
            selectors={"ShellId": shell_id} if shell_id else None,
            options=options,
            operation_timeout_s=operation_timeout_s,
            max_envelope_size=max_envelope_size,
        )
        return self.post(envelope)

    # --- cmd shells --------------------------------------------------------------------

    def create_cmd(self) -> Answer:
        return self.call(names.ACTION_CREATE, shell.build_create(input_streams="stdin"))

    def cmd_shell(self) -> str:
        answer = self.create_cmd()
        assert answer.status == 200, answer.body
        return shell.parse_create_response(answer.envelope.body)

    def command(self, shell_id: str, command: str, *arguments: str) -> Answer:
        return self.call(
            names.ACTION_COMMAND, shell.build_command(None, command, arguments), shell_id=shell_id
        )

    def start_cmd(self, shell_id: str, command: str, *arguments: str) -> str:
        """Run a command in a cmd shell; returns its CommandId."""
        answer = self.command(shell_id, command, *arguments)
        assert answer.status == 200, answer.body
        return shell.parse_command_response(answer.envelope.body)

    def receive(
        self,
        shell_id: str,
        command_id: str | None,
        *,
        resource: str = names.RESOURCE_CMD,
        operation_timeout_s: float = 20,
        max_envelope_size: int = names.DEFAULT_MAX_ENVELOPE_SIZE,
    ) -> Answer:
        return self.call(
            names.ACTION_RECEIVE,
            shell.build_receive("stdout stderr", command_id),
            resource=resource,
            shell_id=shell_id,
            operation_timeout_s=operation_timeout_s,
            max_envelope_size=max_envelope_size,
        )

    def delete(self, shell_id: str, *, resource: str = names.RESOURCE_CMD) -> Answer:
        return self.call(names.ACTION_DELETE, "", resource=resource, shell_id=shell_id)

    # --- PowerShell ---------------------------------------------------------------------

    def open_pool(self, *, max_envelope: int = names.DEFAULT_MAX_ENVELOPE_SIZE) -> RawPool:
        """A runspace pool whose every request asks for envelopes of at most `max_envelope`."""
        pool = psrpcore.ClientRunspacePool()
        pool.open()
        creation = pool.data_to_send()
        assert creation is not None
        raw = RawPool(self, pool, str(pool.runspace_pool_id).upper(), max_envelope, creation.data)
        answer = self.call(
            names.ACTION_CREATE,
            shell.build_create(
                shell_id=raw.shell_id,
                creation_xml=creation.data,
                input_streams="stdin pr",
            ),
            resource=names.RESOURCE_POWERSHELL,
            options={"protocolversion": "2.3"},
            max_envelope_size=max_envelope,
        )
        assert answer.status == 200, answer.body
        for _ in range(MAX_POLLS):
            if pool.state == RunspacePoolState.Opened:
                return raw
            received = raw.receive(None)
            raw.opening.append(received)
            raw.feed(received, None)
        raise AssertionError("the runspace pool did not open")


@dataclass
class Run:
    """What one pipeline produced."""

    command_id: str
    output: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    state: PSInvocationState | None = None
    answers: list[Answer] = field(default_factory=list)


@dataclass
class RawPool:
    peer: RawPeer
    pool: Any  # psrpcore.ClientRunspacePool
    shell_id: str
    max_envelope: int
    creation_xml: bytes  # what the Create carried
    opening: list[Answer] = field(default_factory=list)  # the Receives that opened it

    def receive(self, command_id: str | None, *, operation_timeout_s: float = 20) -> Answer:
        return self.peer.receive(
            self.shell_id,
            command_id,
            resource=names.RESOURCE_POWERSHELL,
            operation_timeout_s=operation_timeout_s,
            max_envelope_size=self.max_envelope,
        )

    def feed(self, answer: Answer, pipeline_id: uuid.UUID | None) -> list[Any]:
        assert answer.status == 200, answer.body
        result = shell.parse_receive_response(answer.envelope.body)
        for chunk in result.chunks:
            if chunk.data:
                self.pool.receive_data(
                    psrpcore.PSRPPayload(chunk.data, psrpcore.StreamType.default, pipeline_id)
                )
        events = []
        while (event := self.pool.next_event()) is not None:
            events.append(event)
        return events

    def start(self, script: str) -> tuple[Any, Answer]:
        """Send the Command carrying the CreatePipeline; returns (ClientPowerShell, answer)."""
        ps = psrpcore.ClientPowerShell(self.pool)
        ps.add_script(script)
        ps.start()
        payload = self.pool.data_to_send()
        assert payload is not None
        arguments = base64.b64encode(payload.data).decode()
        answer = self.peer.call(
            names.ACTION_COMMAND,
            shell.build_command(str(ps.pipeline_id).upper(), "", [arguments]),
            resource=names.RESOURCE_POWERSHELL,
            shell_id=self.shell_id,
            max_envelope_size=self.max_envelope,
        )
        return ps, answer

    def collect(self, ps: Any, *, operation_timeout_s: float = 20) -> Run:
        """Receive until the pipeline ends; TimedOut faults are polled again."""
        run = Run(str(ps.pipeline_id).upper())
        for _ in range(MAX_POLLS):
            answer = self.receive(run.command_id, operation_timeout_s=operation_timeout_s)
            run.answers.append(answer)
            if answer.fault is not None and answer.fault.is_receive_timeout:
                continue
            for event in self.feed(answer, ps.pipeline_id):
                if isinstance(event, psrpcore.PipelineOutputEvent):
                    run.output.append(event.data)
                elif isinstance(event, psrpcore.ErrorRecordEvent):
                    run.errors.append(event.record)
                elif isinstance(event, psrpcore.PipelineStateEvent):
                    run.state = event.state
            if run.state is not None and shell.parse_receive_response(answer.envelope.body).state:
                return run
        raise AssertionError(f"pipeline {run.command_id} did not end")

    def run(self, script: str, **receive: Any) -> Run:
        ps, answer = self.start(script)
        assert answer.status == 200, answer.body
        return self.collect(ps, **receive)

    def close(self) -> Answer:
        return self.peer.delete(self.shell_id, resource=names.RESOURCE_POWERSHELL)

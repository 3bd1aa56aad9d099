"""WS-Management operations on one shell: Create, Command, Send, Receive, Signal, Delete,
and Disconnect, Reconnect, Connect for a pool left running on the host.

Builds the envelopes with psfleet.wsman, sends them through the host transport and
checks that each answer relates to its request. Shared by PSRP runspace pools and
WinRS (cmd) shells; the resource URI says which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psfleet.errors import (
    AuthError,
    ProtocolError,
    PsfleetError,
    ShellNotFound,
    UsageError,
    WSManFault,
)
from psfleet.logs import get_logger
from psfleet.transport.host import HostTransport
from psfleet.transport.options import Wait
from psfleet.transport.receipt import Receipt
from psfleet.wsman import (
    Envelope,
    disconnect,
    fault_to_error,
    names,
    parse_envelope,
    parse_fault,
    shell,
)
from psfleet.wsman.envelope import RequestTemplate, request_template
from psfleet.wsman.faults import FaultCode

log = get_logger(__name__)

_MAX_TEMPLATES = 16  # a shell uses six actions; more keys would mean an unusual caller
_KEEPALIVE_OPTION = {"WSMAN_CMDSHELL_OPTION_KEEPALIVE": "True"}
_COMMAND_OPTION = {"WINRS_SKIP_CMD_SHELL": "False"}


class ReceiveTimedOut(Exception):
    """The long poll expired with nothing to say (fault 2150858793): poll again."""


class WSManShell:
    """One remote shell, addressed by its ShellId once created."""

    def __init__(
        self,
        transport: HostTransport,
        resource_uri: str,
        *,
        max_envelope_size: int = names.DEFAULT_MAX_ENVELOPE_SIZE,
    ) -> None:
        self.transport = transport
        self.resource_uri = resource_uri
        # MaxEnvelopeSize we announce: the largest answer the host may send us.
        self.max_envelope_size = max_envelope_size
        # The largest envelope we send. A host's own limit is not announced (PSRP 2.2+ hosts
        # default to 500 KB, but a configured 150 KB limit is common), so requests stay
        # within the size every Windows accepts unless the caller pinned a size.
        self.send_envelope_size = max_envelope_size
        self.shell_id: str | None = None  # as the host's answer to Create gave it
        # Create went out, answered or not: the host may hold a shell until it is deleted.
        self.may_exist = False
        self._requested_id: str | None = None  # the ShellId we asked for, if we chose one
        self._to = transport.endpoint.url
        self._timeouts = transport.timeouts
        self._templates: dict[tuple[object, ...], RequestTemplate] = {}

    @property
    def host(self) -> str:
        return self.transport.host

    async def create(
        self,
        *,
        shell_id: str | None = None,
        creation_xml: bytes | None = None,
        input_streams: str = "stdin pr",
        output_streams: str = "stdout",
        options: Mapping[str, str] | None = None,
        must_comply: bool = False,
    ) -> str:
        body = shell.build_create(
            input_streams=input_streams,
            output_streams=output_streams,
            shell_id=shell_id,
            creation_xml=creation_xml,
        )
        self._requested_id = shell_id
        receipt = Receipt()
        try:
            answer = await self._call(
                names.ACTION_CREATE,
                body,
                options=options,
                must_comply=must_comply,
                receipt=receipt,
            )
            self.shell_id = shell.parse_create_response(answer.body)
        except (WSManFault, AuthError):
            raise  # the host answered: it created nothing (a refused login reads no body)
        except BaseException:
            # Lost, garbled or abandoned after the Create went out: a shell may exist.
            self.may_exist = receipt.sent
            raise
        self.may_exist = True
        return self.shell_id

    async def command(
        self,
        command: str,
        arguments: Sequence[str] = (),
        *,
        command_id: str | None = None,
        receipt: Receipt | None = None,
    ) -> str:
        """Start a command; `receipt.sent` says whether it went out, answered or not."""
        body = shell.build_command(command_id, command, arguments)
        answer = await self._call(
            names.ACTION_COMMAND, body, options=_COMMAND_OPTION, receipt=receipt
        )
        return shell.parse_command_response(answer.body)

    async def send(self, chunks: Sequence[shell.StreamChunk]) -> None:
        await self._call(names.ACTION_SEND, shell.build_send(chunks))

    async def receive(self, streams: str, command_id: str | None = None) -> shell.ReceiveResult:
        """One long poll; raises ReceiveTimedOut when the server had nothing within its timeout."""
        body = shell.build_receive(streams, command_id)
        try:
            answer = await self._call(
                names.ACTION_RECEIVE,
                body,
                options=_KEEPALIVE_OPTION,
                wait=Wait.RECEIVE,
            )
        except WSManFault as exc:
            if exc.code == FaultCode.OPERATION_TIMEDOUT:
                raise ReceiveTimedOut from None
            raise
        return shell.parse_receive_response(answer.body)

    async def signal(self, code: str, command_id: str | None = None) -> None:
        await self._call(names.ACTION_SIGNAL, shell.build_signal(command_id, code))

    def attach(self, shell_id: str) -> None:
        """Address a shell created by an earlier client (to Connect to it)."""
        self.shell_id = self._requested_id = shell_id
        self.may_exist = True

    async def disconnect(self, idle_timeout_s: float | None = None) -> None:
        """Leave the shell running on the host, kept for `idle_timeout_s` (else its default)."""
        await self._call(disconnect.ACTION_DISCONNECT, disconnect.build_disconnect(idle_timeout_s))

    async def reconnect(self) -> None:
        await self._call(disconnect.ACTION_RECONNECT, disconnect.RECONNECT)

    async def connect_pool(self, connect_xml: bytes) -> bytes:
        """Connect to a disconnected pool; returns the host's connectResponseXml."""
        answer = await self._call(
            disconnect.ACTION_CONNECT,
            disconnect.build_connect_pool(connect_xml),
            options={"protocolversion": "2.3"},
            must_comply=True,
        )
        response = disconnect.parse_connect_response(answer.body)
        if response is None:
            raise ProtocolError("ConnectResponse without connectResponseXml", host=self.host)
        return response

    async def connect_command(self, command_id: str) -> None:
        answer = await self._call(
            disconnect.ACTION_CONNECT, disconnect.build_connect_command(command_id)
        )
        disconnect.parse_connect_response(answer.body)

    async def delete(self) -> None:
        if self.shell_id is None:
            # The answer to Create was lost or garbled: address the shell by the id we chose.
            self.shell_id = self._requested_id
        if self.shell_id is None:
            raise UsageError("no shell to delete: its id is unknown", host=self.host)
        await self._call(names.ACTION_DELETE, "", wait=Wait.CLOSE)
        self.shell_id = None
        self.may_exist = False

    async def dispose(self) -> bool:
        """Delete the shell if the host may hold one; True once it is sure to be gone.

        After a broken connection, a garbled answer or a timeout the Delete is tried once
        more, on fresh connections. A host that knows no such shell has none: gone. The
        caller bounds the time (the close timeout).
        """
        if not self.may_exist:
            return True
        if self.shell_id is None and self._requested_id is None:
            return False  # the host chose the id and its answer never arrived
        for attempt in (1, 2):
            try:
                await self.delete()
                return True
            except ShellNotFound:
                self.may_exist = False
                return True
            except (WSManFault, AuthError, UsageError) as exc:
                log.warning("shell delete refused", host=self.host, error=repr(exc))
                return False  # retrying would only repeat it (or count a bad password again)
            except PsfleetError as exc:
                log.warning("shell delete failed", host=self.host, attempt=attempt, error=repr(exc))
                if attempt == 1:
                    await self.transport.drop_idle_connections()
        return False

    def _template(
        self, action: str, options: Mapping[str, str] | None, must_comply: bool
    ) -> RequestTemplate:
        """The headers of this shell's requests, built once per action and options."""
        key = (action, self.shell_id, self.max_envelope_size, options and tuple(options.items()))
        template = self._templates.get(key)
        if template is None:
            template = request_template(
                action=action,
                to=self._to,
                resource_uri=self.resource_uri,
                selectors={"ShellId": self.shell_id} if self.shell_id else None,
                options=options,
                options_must_comply=must_comply,
                max_envelope_size=self.max_envelope_size,
                operation_timeout_s=self._timeouts.operation,
            )
            if len(self._templates) < _MAX_TEMPLATES:
                self._templates[key] = template
        return template

    async def _call(
        self,
        action: str,
        body: str,
        *,
        options: Mapping[str, str] | None = None,
        must_comply: bool = False,
        wait: Wait = Wait.REQUEST,
        receipt: Receipt | None = None,
    ) -> Envelope:
        message, message_id = self._template(action, options, must_comply).build(body)
        raw = await self.transport.request(message, wait=wait, receipt=receipt)
        answer = parse_envelope(raw)
        if answer.is_fault:  # Windows sends faults with HTTP 500; tolerate a 200 too
            raise fault_to_error(parse_fault(answer), host=self.host)
        if answer.relates_to != message_id:
            raise ProtocolError(
                f"answer to {action.rsplit('/', 1)[-1]} relates to another request", host=self.host
            )
        return answer

"""WS-Management dispatch of a simulated host: one authenticated envelope in, one response out."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass

from psfleet.errors import ProtocolError
from psfleet.simfleet.auth import Identity
from psfleet.simfleet.faults import FaultKind
from psfleet.simfleet.host import HostRuntime, QuotaFault, Shell, new_shell_id
from psfleet.simfleet.hostfacts import HostFacts
from psfleet.simfleet.open_answers import OpenAnswers
from psfleet.simfleet.psrp_shell import PsrpShell
from psfleet.simfleet.stats import Counter
from psfleet.simfleet.winrs_shell import WinrsShell
from psfleet.wsman import Envelope, build_fault, build_response, disconnect, names, shell
from psfleet.wsman import config as wsman_config
from psfleet.wsman.faults import FaultCode
from psfleet.wsman.identify import build_identify_response, is_identify

# Bytes of a Receive response outside its rsp:Stream elements (headers, CommandState), and
# the most one rsp:Stream element adds to its base64 text (tag, Name, CommandId, End).
_ENVELOPE_OVERHEAD = 2048
_STREAM_OVERHEAD = 128
# ERROR_ALREADY_EXISTS: a Create that names the ShellId of a shell that is open.
_ALREADY_EXISTS = 183
_SESSION_CONFIGURATIONS = frozenset(
    {"microsoft.powershell", "microsoft.powershell32", "microsoft.powershell.workflow", "jea"}
)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


class DropConnection(Exception):
    """The injected `drop` fault: cut the connection instead of answering."""


class WSManService:
    def __init__(
        self,
        lookup: Callable[[str], HostFacts | None],
        receive_cap_s: float,
        idle_timeout_s: float = 7200.0,
    ) -> None:
        self._lookup = lookup
        self._receive_cap_s = receive_cap_s
        self._idle_timeout_s = idle_timeout_s
        self._openings = OpenAnswers()  # the fleet's: a pool's opening is host-independent

    async def handle(
        self, host: HostRuntime, identity: Identity, envelope: Envelope, client_ip: str
    ) -> Reply:
        if is_identify(envelope.body):
            return Reply(200, build_identify_response(_product_version(host)))
        handler = self._HANDLERS.get(envelope.action)
        try:
            if handler is None:
                raise _Fault(
                    FaultCode.ACTION_NOT_SUPPORTED,
                    f"The WS-Management service does not support the action {envelope.action}.",
                )
            body = await handler(self, host, identity, envelope, client_ip)
        except _Fault as fault:
            return self._fault(host, envelope, fault.code, fault.message)
        except QuotaFault as quota:
            return self._fault(host, envelope, quota.code, quota.message)
        except ProtocolError as exc:
            return self._fault(host, envelope, FaultCode.INVALID_XML, exc.message)
        return Reply(
            200,
            build_response(
                action=names.response_action(envelope.action),
                relates_to=envelope.message_id,
                body=body,
            ),
        )

    def _fault(self, host: HostRuntime, envelope: Envelope, code: int, message: str) -> Reply:
        host.count(Counter.FAULTS)
        return Reply(
            500,
            build_fault(code, message, relates_to=envelope.message_id, machine=host.facts.address),
        )

    # --- actions -----------------------------------------------------------------------

    async def _create(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        resource = env.resource_uri or ""
        request = shell.parse_create(env.body)
        shell_id = (request.shell_id or new_shell_id()).upper()
        if shell_id in host.shells:
            raise _Fault(_ALREADY_EXISTS, f"A shell with ShellId {shell_id} already exists.")
        host.check_shell_quota(identity.user)
        context = host.session(identity, self._lookup)
        new: Shell
        if resource == names.RESOURCE_CMD:
            new = WinrsShell(shell_id, context)
        elif _is_powershell(resource):
            if request.creation_xml is None:
                raise _Fault(FaultCode.SCHEMA_VALIDATION_ERROR, "creationXml is missing.")
            new = PsrpShell(
                shell_id,
                context,
                fragment_size=_payload_budget(env),
                on_execution=host.count_execution,
                answers=host.answers,
                openings=self._openings,
            )
            new.open(request.creation_xml)
        else:
            raise _Fault(
                FaultCode.RESOURCE_NOT_FOUND,
                f"The WS-Management service cannot process the request. The resource URI "
                f"({resource}) was not found in the WS-Management catalog.",
            )
        host.add_shell(identity.user, new, resource)
        return shell.build_create_response(
            shell_id=shell_id,
            resource_uri=resource,
            address=env.to or f"http://{host.facts.address}:{host.port}/wsman",
            owner=identity.user,
            client_ip=client_ip,
            input_streams=request.input_streams,
            output_streams=request.output_streams,
        )

    async def _command(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _shell(host, identity, env)
        host.check_command_quota(target)
        line = shell.parse_command(env.body)
        host.count(Counter.COMMANDS_RUN)
        if isinstance(target, PsrpShell):
            command_id = target.command(
                line.command_id, _decode(line.arguments[0] if line.arguments else "")
            )
        else:
            command_id = target.command(
                (line.command_id or new_shell_id()).upper(), line.command, line.arguments
            )
            host.count(Counter.EXECUTIONS)
        return shell.build_command_response(command_id)

    async def _send(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _shell(host, identity, env)
        if isinstance(target, PsrpShell):
            for chunk in shell.parse_send(env.body):
                if chunk.data:
                    target.send(chunk.command_id, chunk.name, chunk.data)
                    await target.input_room(chunk.command_id)
        return shell.SEND_RESPONSE

    async def _receive(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _shell(host, identity, env)
        request = shell.parse_receive(env.body)
        timeout = min(env.operation_timeout_s or 60.0, self._receive_cap_s)
        room = _response_room(env)
        if isinstance(target, WinrsShell):
            with host.polling(target):
                return await _receive_cmd(target, (request.command_id or "").upper(), timeout, room)
        try:
            pipeline_id, command = target.target_of(request.command_id)
        except KeyError:
            raise _command_not_found(request.command_id) from None

        def ready() -> bool:
            return (
                target.closed
                or target.disconnected
                or target.outbox.pending(pipeline_id) > 0
                or (command is not None and command.done)
            )

        with host.polling(target):
            if not await target.outbox.wait(ready, timeout):
                raise _timed_out()
        if target.closed:
            raise _shell_not_found(target.shell_id)
        if target.disconnected:
            # No recording shows a Receive pending at a Disconnect (pypsrp's recorded
            # exchanges poll one request at a time). MS-WSMV 3.1.4.15 has the server finish
            # pending Receives before DisconnectResponse; here they end with the fault and
            # no output, which stays buffered for the next client: the client that left
            # has abandoned its poll, and output sent to it would be lost.
            raise _disconnected(target.shell_id)
        fragments = target.outbox.take(pipeline_id, room, _STREAM_OVERHEAD)
        if fragments and command is not None and host.fault.kind is FaultKind.DROP:
            raise DropConnection()
        chunks = [shell.StreamChunk("stdout", request.command_id, f) for f in fragments]
        state = None
        if command is not None and command.done and target.outbox.pending(pipeline_id) == 0:
            state = shell.CommandState(command.command_id, names.COMMAND_STATE_DONE, exit_code=0)
            target.delivered(command)
        return shell.build_receive_response(chunks, state)

    async def _signal(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _shell(host, identity, env)
        request = shell.parse_signal(env.body)
        if request.command_id:
            target.signal(request.command_id, request.code)
        return shell.SIGNAL_RESPONSE

    async def _delete(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _shell(host, identity, env)
        host.remove_shell(target.shell_id)
        return ""

    async def _get(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        """`winrm get winrm/config` (pypsrp's update_max_payload_size): the host's limits."""
        if not wsman_config.is_config_get(env.action, env.resource_uri):
            raise _Fault(
                FaultCode.RESOURCE_NOT_FOUND,
                f"The WS-Management service cannot process the request. The resource URI "
                f"({env.resource_uri}) was not found in the WS-Management catalog.",
            )
        return wsman_config.config_body(host.quotas.max_envelope_size)

    # --- disconnected sessions (Disconnect-PSSession, Connect-PSSession, Get-PSSession) ---

    async def _disconnect(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _pool(host, identity, env)
        idle_s = disconnect.parse_disconnect(env.body)
        target.disconnect()
        host.keep_disconnected(target.shell_id, idle_s)
        return disconnect.EMPTY_RESPONSE

    async def _reconnect(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        _pool(host, identity, env).reconnect()
        return disconnect.EMPTY_RESPONSE

    async def _connect(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        target = _pool(host, identity, env)
        request = disconnect.parse_connect(env.body)
        if request.command_id is not None:
            if target.disconnected:
                raise _disconnected(target.shell_id)
            try:
                target.target_of(request.command_id)
            except KeyError:
                raise _command_not_found(request.command_id) from None
            return disconnect.CONNECT_COMMAND_RESPONSE
        if request.connect_xml is None:
            raise _Fault(FaultCode.SCHEMA_VALIDATION_ERROR, "connectXml is missing.")
        if not target.disconnected:
            if host.polled(target):
                raise _Fault(
                    FaultCode.ACCESS_DENIED,
                    f"The shell {target.shell_id} is in use by another client.",
                )
            # A connected pool nobody polls has lost its client (killed mid-run). Windows
            # marks such a shell Disconnected once its IdleTimeOut passes with no request
            # (pypsrp's recorded test_psrp_is_alive_state_disconnected: Get says State
            # Disconnected after 62 s idle with IdleTimeOut 60 s); here it happens at the
            # Connect, without the wait.
            target.disconnect()
        return disconnect.build_connect_pool_response(target.connect(request.connect_xml))

    async def _enumerate(
        self, host: HostRuntime, identity: Identity, env: Envelope, client_ip: str
    ) -> str:
        shell_id = disconnect.parse_enumerate(env.body)
        if shell_id is None:
            return disconnect.build_enumerate_shells_response(
                [
                    disconnect.ShellInfo(
                        held.shell.shell_id,
                        held.resource_uri,
                        "Disconnected"
                        if getattr(held.shell, "disconnected", False)
                        else "Connected",
                        held.idle_s if held.idle_s is not None else self._idle_timeout_s,
                        identity.user,
                    )
                    for held in host.held_by(identity.user)
                ]
            )
        target = host.find_shell(shell_id, identity.user)
        if target is None:
            raise _shell_not_found(shell_id)
        return disconnect.build_enumerate_commands_response(
            [
                disconnect.CommandInfo(c.command_id, "Done" if c.done else "Running")
                for c in target.commands.values()
            ]
            if isinstance(target, PsrpShell)
            else []
        )

    _HANDLERS = {
        names.ACTION_CREATE: _create,
        names.ACTION_COMMAND: _command,
        names.ACTION_SEND: _send,
        names.ACTION_RECEIVE: _receive,
        names.ACTION_SIGNAL: _signal,
        names.ACTION_DELETE: _delete,
        disconnect.ACTION_DISCONNECT: _disconnect,
        disconnect.ACTION_RECONNECT: _reconnect,
        disconnect.ACTION_CONNECT: _connect,
        disconnect.ACTION_ENUMERATE: _enumerate,
        wsman_config.ACTION_GET: _get,
    }


class _Fault(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Operations a disconnected shell refuses until a client Connects or Reconnects to it.
_NEED_A_CLIENT = frozenset(
    {names.ACTION_COMMAND, names.ACTION_SEND, names.ACTION_RECEIVE, names.ACTION_SIGNAL}
)


def _shell(host: HostRuntime, identity: Identity, env: Envelope) -> Shell:
    shell_id = env.selectors.get("ShellId")
    found = host.find_shell(shell_id, identity.user)
    if found is None:
        raise _shell_not_found(shell_id)
    if env.action in _NEED_A_CLIENT and isinstance(found, PsrpShell) and found.disconnected:
        raise _disconnected(found.shell_id)
    return found


def _pool(host: HostRuntime, identity: Identity, env: Envelope) -> PsrpShell:
    found = _shell(host, identity, env)
    if not isinstance(found, PsrpShell):
        raise _Fault(
            FaultCode.ACTION_NOT_SUPPORTED,
            "The WS-Management service does not support disconnecting a cmd shell here.",
        )
    return found


def _disconnected(shell_id: str) -> _Fault:
    # The code of this fault is an assumption (the shell-not-found one): no recorded
    # exchange (pypsrp's test_psrp_disconnect*, test_psrp_disconnected_commands) polls a
    # disconnected shell. A client must Connect or Reconnect before it polls again.
    return _Fault(
        FaultCode.SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the "
        "shell is disconnected. Connect or reconnect to the shell and retry the operation.",
    )


def _shell_not_found(shell_id: str | None) -> _Fault:
    return _Fault(
        FaultCode.SHELL_NOT_FOUND,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the "
        "shell was not found on the server. Possible causes are: the specified ShellId is "
        "incorrect or the shell no longer exists on the server. Provide the correct ShellId "
        "or create a new shell and retry the operation.",
    )


def _command_not_found(command_id: str | None) -> _Fault:
    return _Fault(
        FaultCode.INVALID_COMMAND_HANDLE,
        f"The request for the command with CommandId {command_id} failed because the command "
        "was not found in the shell.",
    )


def _timed_out() -> _Fault:
    return _Fault(
        FaultCode.OPERATION_TIMEDOUT,
        "The WS-Management service cannot complete the operation within the time specified "
        "in OperationTimeout.",
    )


async def _receive_cmd(target: WinrsShell, command_id: str, limit_s: float, room: int) -> str:
    if command_id not in target.commands:
        raise _command_not_found(command_id)
    if not await target.changes.wait(lambda: target.has_news(command_id), limit_s):
        raise _timed_out()
    if target.closed:
        raise _shell_not_found(target.shell_id)
    if command_id not in target.commands:
        raise _command_not_found(command_id)
    chunks, state = target.receive(command_id, room, _STREAM_OVERHEAD)
    return shell.build_receive_response(chunks, state)


def _is_powershell(resource: str) -> bool:
    if not resource.lower().startswith(names.RESOURCE_POWERSHELL_PREFIX):
        return False
    return resource[len(names.RESOURCE_POWERSHELL_PREFIX) :].lower() in _SESSION_CONFIGURATIONS


def _response_room(env: Envelope) -> int:
    """Bytes of rsp:Stream elements that fit a response under the client's MaxEnvelopeSize."""
    size = env.max_envelope_size or names.DEFAULT_MAX_ENVELOPE_SIZE
    return max(1024, size - _ENVELOPE_OVERHEAD)


def _payload_budget(env: Envelope) -> int:
    """The largest PSRP fragment whose rsp:Stream element fits one response."""
    return (_response_room(env) - _STREAM_OVERHEAD) * 3 // 4


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("Command arguments are not valid base64") from exc


def _product_version(host: HostRuntime) -> str:
    return f"OS: {host.facts.os_version} SP: 0.0 Stack: 3.0"

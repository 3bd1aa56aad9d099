"""An open PowerShell runspace pool on one host, and the pipelines that run on it.

Opening is Create (SessionCapability and InitRunspacePool ride in creationXml) and
Receives until the host says Opened; closing is Delete, always, shielded from
cancellation and bounded by a timeout, even when the answer to Create never came
(psfleet chooses the ShellId, so it can still address the shell). Up to
`max_runspaces` pipelines run at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import psrpcore
from psrpcore.types import RunspacePoolState

from psfleet.errors import ProtocolError, RemoteScriptError
from psfleet.session import clixml, psrp
from psfleet.session.decode import member, state_of
from psfleet.session.pipeline import Pipeline, PoolLink
from psfleet.session.pool_stream import poll_pool_messages
from psfleet.session.psrp import MessageType
from psfleet.session.records import CmdResult, PipelineResult
from psfleet.session.shell_ledger import report_possibly_open
from psfleet.session.winrs import run_cmd
from psfleet.session.wsman import WSManShell
from psfleet.transport.host import HostTransport
from psfleet.wsman import names

_FAILED_OPEN = (RunspacePoolState.Broken, RunspacePoolState.Closed)


def resource_uri(configuration: str) -> str:
    """A session configuration name (JEA endpoints included) as its WSMan resource URI."""
    if configuration.startswith(("http://", "https://")):
        return configuration
    return names.RESOURCE_POWERSHELL_PREFIX + configuration


class RunspacePool:
    """A runspace pool on one host. Use `psfleet.connect()` to get an open one."""

    def __init__(
        self,
        transport: HostTransport,
        *,
        configuration: str = "Microsoft.PowerShell",
        min_runspaces: int = 1,
        max_runspaces: int = 1,
        max_envelope_size: int | None = None,
        pool_id: uuid.UUID | None = None,
    ) -> None:
        self.transport = transport
        self.host = transport.host
        # A given id: a pool another client created, to `connect()` to.
        self.id = pool_id or uuid.uuid4()
        self.state = RunspacePoolState.BeforeOpen
        self.protocol_version: str | None = None
        self._min_runspaces = min_runspaces
        self._max_runspaces = max_runspaces
        self._adapt_envelope = max_envelope_size is None
        self._closed = False
        self.shell = WSManShell(
            transport,
            resource_uri(configuration),
            max_envelope_size=max_envelope_size or names.DEFAULT_MAX_ENVELOPE_SIZE,
        )
        self._link = PoolLink(
            pool_id=self.id,
            shell=self.shell,
            fragmenter=psrp.Fragmenter(),
            # fast_acquire: a free runspace needs no extra trip round the event loop
            runspaces=anyio.Semaphore(max_runspaces, fast_acquire=True),
            cipher=psrpcore.PSRemotingCrypto(),
        )

    def __repr__(self) -> str:
        return f"RunspacePool(host={self.host!r}, state={self.state.name})"

    async def open(self) -> None:
        messages = [
            psrp.message(MessageType.SessionCapability, self.id, None, psrp.session_capability()),
            psrp.message(
                MessageType.InitRunspacePool,
                self.id,
                None,
                psrp.init_runspace_pool(self._min_runspaces, self._max_runspaces),
            ),
        ]
        limit = psrp.fragment_limit(self.shell.send_envelope_size)
        first, *rest = self._link.fragmenter.payloads(messages, limit)
        self.state = RunspacePoolState.Opening
        await self.shell.create(
            shell_id=psrp.shell_id_of(self.id),
            creation_xml=first,
            options={"protocolversion": "2.3"},
            must_comply=True,
        )
        for payload in rest:
            await self.shell.send([self._link.chunk(payload, None)])
        defragmenter = psrp.Defragmenter()
        while self.state != RunspacePoolState.Opened:
            for message in await poll_pool_messages(self.shell, defragmenter):
                self._on_message(message)

    async def disconnect(self, idle_timeout_s: float | None = None) -> None:
        """Disconnect-PSSession: leave the pool and its running pipelines on the host, kept
        for `idle_timeout_s` (else the host's IdleTimeOut); close our connections."""
        with anyio.CancelScope(shield=True):
            await self.shell.disconnect(idle_timeout_s)  # failed: aclose() still deletes it
            self._closed = True  # nothing to Delete: the pool is left for a Connect
            self.state = RunspacePoolState.Disconnected
            await self.transport.aclose()

    async def connect(self) -> None:
        """Connect-PSSession: attach to this pool, disconnected by the client that made it.

        Windows answers Connect with SessionCapability and RunspacePoolInitData, then its
        first Receive with ApplicationPrivateData, and sends no Opened state: the pool is
        open once that data came.
        """
        messages = [
            psrp.message(MessageType.SessionCapability, self.id, None, psrp.session_capability()),
            psrp.message(MessageType.ConnectRunspacePool, self.id, None, b"<S />"),
        ]
        first, *rest = self._link.fragmenter.payloads(
            messages, psrp.fragment_limit(self.shell.send_envelope_size)
        )
        if rest:
            raise ProtocolError("the Connect request does not fit one envelope", host=self.host)
        self.shell.attach(psrp.shell_id_of(self.id))
        self.state = RunspacePoolState.Connecting
        defragmenter = psrp.Defragmenter()
        for message in defragmenter.feed(await self.shell.connect_pool(first)):
            self._on_message(message)
        while self.state != RunspacePoolState.Opened:
            for message in await poll_pool_messages(self.shell, defragmenter):
                self._on_message(message)
                if message.type == MessageType.ApplicationPrivateData:
                    self.state = RunspacePoolState.Opened

    def attach(self, pipeline_id: uuid.UUID) -> Pipeline:
        """A pipeline of this pool that an earlier client started: iterate it for the
        records produced since it was disconnected, to its end."""
        return Pipeline.attached(self._link, pipeline_id)

    def _on_message(self, message: psrp.Message) -> None:
        if message.type == MessageType.SessionCapability:
            version = member(clixml.read(message.data), "protocolversion")
            self.protocol_version = self._link.protocol_version = str(version)
            if self._adapt_envelope:
                self.shell.max_envelope_size = psrp.negotiated_envelope_size(
                    self.protocol_version, self.shell.max_envelope_size
                )
        elif message.type == MessageType.RunspacePoolState:
            state, reason = state_of(message.data, "RunspaceState", self.host)
            self.state = RunspacePoolState(state)
            if self.state in _FAILED_OPEN:
                why = reason.message if reason else self.state.name
                raise RemoteScriptError(f"the runspace pool did not open: {why}", host=self.host)
        # ApplicationPrivateData and RunspacePoolInitData: nothing psfleet uses, not decoded
        # (connect() watches for the first: after a Connect, it says the pool is open).

    def pipeline(
        self,
        script: str,
        *args: Any,
        input: Iterable[Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
        streamed_input: bool = False,
        pipeline_id: uuid.UUID | None = None,
    ) -> Pipeline:
        """A pipeline ready to start: iterate it (`async for`) or `await pipeline.result()`.

        `streamed_input=True`: the input comes later, through `pipeline.send_input()`.
        `pipeline_id`: chosen beforehand, to be recorded before the command starts (and
        `attach`ed to by a later client)."""
        pipeline = Pipeline(
            self._link,
            script,
            args,
            input=input,
            parameters=parameters,
            streamed_input=streamed_input,
        )
        if pipeline_id is not None:
            pipeline.id = pipeline_id
        return pipeline

    def stream(
        self,
        script: str,
        *args: Any,
        input: Iterable[Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Pipeline:
        """`async for record in pool.stream(script)`: records as they arrive."""
        return self.pipeline(script, *args, input=input, parameters=parameters)

    async def invoke(
        self,
        script: str,
        *args: Any,
        input: Iterable[Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> PipelineResult:
        """Run a script to the end and return everything it produced.

        Bound it with `anyio.fail_after()`: a cancelled invoke stops the pipeline on the host.
        """
        pipeline = self.pipeline(script, *args, input=input, parameters=parameters)
        return await pipeline.result()

    async def run_cmd(self, command: str, *args: str) -> CmdResult:
        """Run a command on the cmd shell (WinRS) of the same host."""
        return await run_cmd(self.transport, command, args)

    async def aclose(self) -> None:
        """Delete the pool on the host and close its connections; shielded, never raises.

        The Delete gets the close timeout in all (fresh connections and one retry included);
        a shell it cannot confirm deleted is reported to the run's shell ledger.
        """
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            gone = False
            try:
                with anyio.move_on_after(self.transport.timeouts.close):
                    gone = await self.shell.dispose()
            finally:
                if gone:
                    self.state = RunspacePoolState.Closed
                else:
                    report_possibly_open(self.host, psrp.shell_id_of(self.id))
                await self.transport.aclose()

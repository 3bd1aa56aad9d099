"""An open PowerShell runspace pool on one host, and the pipelines that run on it.

Opening is Create (the first PSRP fragments ride in creationXml) and Receives until
psrpcore says Opened; closing is Delete, always, shielded from cancellation and
bounded by a timeout. Up to `max_runspaces` pipelines run at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import anyio
import psrpcore
import structlog
from psrpcore.types import RunspacePoolState

from psfleet.errors import PsfleetError, RemoteScriptError
from psfleet.session import psrp
from psfleet.session.decode import error_record
from psfleet.session.pipeline import Pipeline
from psfleet.session.records import CmdResult, PipelineResult
from psfleet.session.winrs import run_cmd
from psfleet.session.wsman import ReceiveTimedOut, WSManShell
from psfleet.transport.host import HostTransport
from psfleet.wsman import names

log = structlog.get_logger(__name__)


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
    ) -> None:
        self.transport = transport
        self.host = transport.host
        self._psrp = psrpcore.ClientRunspacePool(
            min_runspaces=min_runspaces, max_runspaces=max_runspaces
        )
        self._adapt_envelope = max_envelope_size is None
        self.shell = WSManShell(
            transport,
            resource_uri(configuration),
            max_envelope_size=max_envelope_size or names.DEFAULT_MAX_ENVELOPE_SIZE,
        )
        self._runspaces = anyio.Semaphore(max_runspaces)

    def __repr__(self) -> str:
        return f"RunspacePool(host={self.host!r}, state={self._psrp.state.name})"

    @property
    def state(self) -> RunspacePoolState:
        return self._psrp.state

    @property
    def protocol_version(self) -> str | None:
        theirs = self._psrp.their_capability
        return str(theirs.protocolversion) if theirs is not None else None

    async def open(self) -> None:
        self._psrp.open()
        payloads = psrp.take_payloads(self._psrp, self._fragment_limit())
        await self.shell.create(
            shell_id=psrp.shell_id_of(self._psrp.runspace_pool_id),
            creation_xml=payloads[0].data,
            options={"protocolversion": "2.3"},
            must_comply=True,
        )
        if payloads[1:]:
            await self.shell.send(psrp.as_send_chunks(payloads[1:], None))
        while self._psrp.state != RunspacePoolState.Opened:
            try:
                result = await self.shell.receive("stdout")
            except ReceiveTimedOut:
                continue
            for event in psrp.feed(self._psrp, result.chunks, None):
                self._check_pool_event(event)
            self._adapt_envelope_size()

    def _check_pool_event(self, event: psrpcore.PSRPEvent[Any, Any]) -> None:
        if isinstance(event, psrpcore.RunspacePoolStateEvent) and event.state in (
            RunspacePoolState.Broken,
            RunspacePoolState.Closed,
        ):
            reason = event.reason
            message = error_record(reason, self.host).message if reason else event.state.name
            raise RemoteScriptError(f"the runspace pool did not open: {message}", host=self.host)

    def _adapt_envelope_size(self) -> None:
        if self._adapt_envelope:
            self.shell.max_envelope_size = psrp.negotiated_envelope_size(
                self._psrp, self.shell.max_envelope_size
            )

    def _fragment_limit(self) -> int:
        return psrp.fragment_limit(self.shell.send_envelope_size)

    def pipeline(
        self,
        script: str,
        *args: Any,
        input: Iterable[Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Pipeline:
        """A pipeline ready to start: iterate it (`async for`) or `await pipeline.result()`."""
        return Pipeline(
            self._psrp,
            self.shell,
            self._runspaces,
            script,
            args,
            input=input,
            parameters=parameters,
        )

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
        """Delete the pool on the host; shielded, bounded, never raises for a failed Delete."""
        with anyio.CancelScope(shield=True):
            try:
                if self.shell.shell_id is not None:
                    await self.shell.delete()
            except PsfleetError as exc:
                log.warning("runspace pool delete failed", host=self.host, error=repr(exc))
            finally:
                await self.transport.aclose()

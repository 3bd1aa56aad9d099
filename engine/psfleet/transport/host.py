"""The connections to one host: a small, bounded set of authenticated channels.

A Receive long poll holds its channel for up to OperationTimeout, so concurrent
pipelines (and a Signal sent while they poll) need more than one connection. Channels
open lazily, are reused most-recently-used first (it is the one most likely still
open), and never exceed `max_channels`, which keeps per-host memory small.
"""

from __future__ import annotations

import dataclasses

import anyio

from psfleet.errors import OperationTimeout, UsageError
from psfleet.transport.channel import Channel
from psfleet.transport.credentials import CredentialBroker
from psfleet.transport.options import (
    AuthOptions,
    Endpoint,
    Timeouts,
    TLSOptions,
    Wait,
    check_auth_allowed,
)
from psfleet.transport.receipt import Receipt


class HostTransport:
    """`request(envelope) -> envelope` for one host, over up to `max_channels` connections."""

    def __init__(
        self,
        endpoint: Endpoint,
        auth: AuthOptions,
        tls: TLSOptions | None = None,
        timeouts: Timeouts | None = None,
        *,
        max_channels: int = 2,
    ) -> None:
        """`auth.broker` is the run's, shared by every host of a fan-out: a transport never
        makes one silently, since a broker per host asks the KDC once per host (seconds
        each with no KDC for the realm). One host on its own: `HostTransport.alone`."""
        if auth.broker is None:
            raise ValueError(
                "HostTransport needs the run's CredentialBroker in auth.broker (a fan-out: "
                "psfleet.fanout.executor.run_broker); one host on its own: HostTransport.alone"
            )
        check_auth_allowed(endpoint, auth)
        self.endpoint = endpoint
        self.timeouts = timeouts or Timeouts()
        self._auth = auth
        self._own_broker: CredentialBroker | None = None
        self._tls = tls or TLSOptions()
        self._slots = anyio.Semaphore(max_channels, fast_acquire=True)
        self._idle: list[Channel] = []
        self._channels: list[Channel] = []
        self._closed = False

    @classmethod
    def alone(
        cls,
        endpoint: Endpoint,
        auth: AuthOptions,
        tls: TLSOptions | None = None,
        timeouts: Timeouts | None = None,
        *,
        max_channels: int = 2,
    ) -> HostTransport:
        """One host outside any fan-out (psfleet.connect, psfleet shell): a broker of its
        own (tickets, lockout guard), whatever `auth` carries, closed by `aclose`."""
        timeouts = timeouts or Timeouts()
        broker = CredentialBroker.for_settings(auth, timeouts)
        try:
            transport = cls(
                endpoint,
                dataclasses.replace(auth, broker=broker),
                tls,
                timeouts,
                max_channels=max_channels,
            )
        except BaseException:
            broker.close()
            raise
        transport._own_broker = broker
        return transport

    def __repr__(self) -> str:
        return f"HostTransport({self.endpoint.url!r}, channels={len(self._channels)})"

    @property
    def host(self) -> str:
        return self.endpoint.host

    async def request(
        self, message: bytes, *, wait: Wait = Wait.REQUEST, receipt: Receipt | None = None
    ) -> bytes:
        """Send one SOAP message, return the answer; waiting for a free channel is bounded too.

        `receipt.sent` tells, when it fails, whether the host may have acted on the message.
        """
        limit = self.timeouts.seconds(wait)
        if self._slots.value > 0:
            self._slots.acquire_nowait()  # the common case: no cancel scope to pay for
        else:
            with anyio.move_on_after(limit) as scope:
                await self._slots.acquire()
            if scope.cancelled_caught:
                raise OperationTimeout(f"no free connection within {limit:g}s", host=self.host)
        try:
            channel = self._idle.pop() if self._idle else self._open_channel()
            try:
                return await channel.request(message, wait=wait, receipt=receipt)
            finally:
                self._idle.append(channel)
        finally:
            self._slots.release()

    def _open_channel(self) -> Channel:
        if self._closed:
            raise UsageError("the connection to this host is closed", host=self.host)
        channel = Channel(self.endpoint, self._auth, self._tls, self.timeouts)
        self._channels.append(channel)
        return channel

    async def drop_idle_connections(self) -> None:
        """Close the idle connections: the next request authenticates a fresh one.

        For a last request (a cleanup Delete) after a failure left a connection in doubt.
        """
        idle, self._idle = self._idle, []
        self._channels = [channel for channel in self._channels if channel not in idle]
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.timeouts.close):
            for channel in idle:
                await channel.aclose()

    async def aclose(self) -> None:
        """Close every connection; safe to call twice and from a cancelled task."""
        self._closed = True
        channels, self._channels, self._idle = self._channels, [], []
        with anyio.CancelScope(shield=True), anyio.move_on_after(self.timeouts.close):
            for channel in channels:
                await channel.aclose()
        if self._own_broker is not None:
            self._own_broker.close()

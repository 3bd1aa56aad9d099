"""Time and count every WSMan request of one host, without changing how it is sent.

`TimedTransport` is the client's HostTransport with a stopwatch around `request`:
the first request of a connection also carries the TCP connect and the auth
handshake, every later one is a single round trip (a Receive may wait for output).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from psfleet.client import ClientOptions
from psfleet.session.pool import RunspacePool
from psfleet.transport.host import HostTransport
from psfleet.transport.options import Endpoint, Wait
from psfleet.transport.receipt import Receipt


@dataclass(slots=True)
class RequestLog:
    durations_s: list[float] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.durations_s)

    def since(self, mark: int) -> list[float]:
        return self.durations_s[mark:]


class TimedTransport(HostTransport):
    def __init__(self, endpoint: Endpoint, options: ClientOptions) -> None:
        super().__init__(
            endpoint,
            options.auth,
            options.tls,
            options.timeouts,
            max_channels=options.max_runspaces + 1,  # as psfleet.client.open_pool
        )
        self.log = RequestLog()

    async def request(
        self, message: bytes, *, wait: Wait = Wait.REQUEST, receipt: Receipt | None = None
    ) -> bytes:
        started = time.perf_counter()
        try:
            return await super().request(message, wait=wait, receipt=receipt)
        finally:
            self.log.durations_s.append(time.perf_counter() - started)


def timed_pool(transport: TimedTransport, options: ClientOptions) -> RunspacePool:
    """A pool (not yet open) on `transport`, built as psfleet.client.open_pool builds one."""
    return RunspacePool(
        transport,
        configuration=options.configuration,
        min_runspaces=options.min_runspaces,
        max_runspaces=options.max_runspaces,
        max_envelope_size=options.max_envelope_size,
    )

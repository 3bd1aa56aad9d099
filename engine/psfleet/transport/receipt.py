"""Whether a request's body went out: after that, the host may act on it, answered or not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Receipt:
    """Set by the transport as it posts the message itself (handshake legs carry no body).

    A Create that failed before this was set created nothing; after it, the host may hold
    a shell even though its answer was lost, garbled or never waited for.
    """

    sent: bool = False

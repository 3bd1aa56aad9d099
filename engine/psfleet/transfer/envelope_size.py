"""How big a Send each host takes: its MaxEnvelopeSizekb, read once per host per run.

As pypsrp's `update_max_payload_size()` does: a WSMan Get of winrm/config. The chunks of
a push then fill the host's envelopes (a Windows default of 500 KB carries about three
times the file bytes of the 150 KB every host accepts). A host that will not say (a
non-administrator may not read winrm/config) keeps the size psfleet sends with.
"""

from __future__ import annotations

import structlog

from psfleet.errors import ProtocolError, WSManFault
from psfleet.session.pool import RunspacePool
from psfleet.wsman import build_request, fault_to_error, parse_envelope, parse_fault
from psfleet.wsman import config as wsman_config

log = structlog.get_logger(__name__)

# Whatever a host allows, one Send stays within this: the window of chunks shared by
# the hosts of a push (16 of them) must stay small whatever the hosts' configuration.
MAX_SEND_ENVELOPE = 1 << 20


async def read_max_envelope_size(pool: RunspacePool) -> int:
    """The host's MaxEnvelopeSizekb in bytes; WSManFault or ProtocolError if it will not say."""
    shell = pool.shell
    message, message_id = build_request(
        action=wsman_config.ACTION_GET,
        to=pool.transport.endpoint.url,
        resource_uri=wsman_config.RESOURCE_CONFIG,
        body="",
        max_envelope_size=shell.max_envelope_size,
        operation_timeout_s=pool.transport.timeouts.operation,
    )
    answer = parse_envelope(await pool.transport.request(message))
    if answer.is_fault:
        raise fault_to_error(parse_fault(answer), host=pool.host)
    if answer.relates_to != message_id:
        raise ProtocolError("the answer to Get winrm/config relates to another request")
    return wsman_config.parse_max_envelope_size(answer.body)


class EnvelopeSizes:
    """The hosts' envelope sizes of one run: each read once, then applied to its pool."""

    def __init__(self) -> None:
        self._by_host: dict[str, int | None] = {}

    async def apply(self, pool: RunspacePool) -> None:
        """Size the pool's Sends from what its host allows (a later pool of the same host
        in this run, e.g. after a retry, is sized without asking again)."""
        if pool.host not in self._by_host:
            self._by_host[pool.host] = await self._read(pool)
        size = self._by_host[pool.host]
        if size is not None:
            pool.shell.send_envelope_size = min(size, MAX_SEND_ENVELOPE)

    @staticmethod
    async def _read(pool: RunspacePool) -> int | None:
        try:
            return await read_max_envelope_size(pool)
        except WSManFault as fault:  # the host answered, and refused: not worth asking again
            log.info("winrm/config not readable", host=pool.host, code=fault.code)
            return None

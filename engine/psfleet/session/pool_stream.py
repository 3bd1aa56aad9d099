"""The pool's own stream (a Receive without a CommandId): the PSRP messages of no pipeline."""

from __future__ import annotations

from psfleet.session import psrp
from psfleet.session.wsman import ReceiveTimedOut, WSManShell


async def poll_pool_messages(
    shell: WSManShell, defragmenter: psrp.Defragmenter
) -> list[psrp.Message]:
    """One long poll of the pool's stream; none when it expired with nothing to say."""
    try:
        result = await shell.receive("stdout")
    except ReceiveTimedOut:
        return []
    return [message for chunk in result.chunks for message in defragmenter.feed(chunk.data)]

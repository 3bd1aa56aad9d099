"""The session key exchange a pool needs before it sends a SecureString (MS-PSRP 3.1.5.4.1).

The client sends an RSA public key (PUBLIC_KEY); the host answers on the pool's stream
with its AES session key encrypted to that key (ENCRYPTED_SESSION_KEY). psrpcore makes
the key pair and opens the answer; psfleet carries both messages on the pool's shell.
Done once per pool, on the first SecureString to send.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import anyio
from psrpcore._crypto import create_keypair, decrypt_session_key  # pinned psrpcore 0.3.1

from psfleet.errors import OperationTimeout, ProtocolError
from psfleet.session import clixml, psrp
from psfleet.session.decode import member
from psfleet.session.pool_stream import poll_pool_messages
from psfleet.session.psrp import MessageType
from psfleet.transport.options import Wait

if TYPE_CHECKING:
    from psfleet.session.pipeline import PoolLink


async def exchange_session_key(link: PoolLink) -> None:
    """Give the pool's cipher the host's session key; one exchange even when asked twice."""
    async with link.key_lock:
        if link.has_session_key:
            return
        # A 2048-bit RSA key takes tens of milliseconds: not on the event loop of a fan-out.
        private_key, public_key = await anyio.to_thread.run_sync(create_keypair)
        offer = psrp.message(MessageType.PublicKey, link.pool_id, None, psrp.public_key(public_key))
        for payload in link.payloads([offer]):
            await link.shell.send([link.chunk(payload, None)])
        encrypted = await _receive_encrypted_key(link)
        try:
            link.cipher.register_key(decrypt_session_key(private_key, encrypted))
        except ValueError as exc:  # wrong padding or size: not a key sealed to ours
            raise ProtocolError(
                f"the host's session key does not decrypt: {exc}", host=link.shell.host
            ) from None
        link.has_session_key = True


async def _receive_encrypted_key(link: PoolLink) -> bytes:
    host = link.shell.host
    limit = link.shell.transport.timeouts.seconds(Wait.RECEIVE)
    defragmenter = psrp.Defragmenter()
    with anyio.move_on_after(limit):
        while True:
            for message in await poll_pool_messages(link.shell, defragmenter):
                if message.type == MessageType.EncryptedSessionKey:
                    return _key_bytes(message.data, host)
    raise OperationTimeout(f"no session key from the host within {limit:g}s", host=host)


def _key_bytes(data: bytes, host: str) -> bytes:
    value = member(clixml.read(data), "EncryptedSessionKey")
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("the host's encrypted session key is not base64", host=host) from None

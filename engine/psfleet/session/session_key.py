"""The session key exchange a pool needs before it sends a SecureString (MS-PSRP 3.1.5.4.1).

The client sends an RSA public key (PUBLIC_KEY); the host answers on the pool's stream
with its AES session key encrypted to that key (ENCRYPTED_SESSION_KEY). Both travel as
Windows CryptoAPI key blobs; cryptography's public RSA API makes the key pair and opens
the answer (psrpcore does this only in a private module). psfleet carries both messages
on the pool's shell. Done once per pool, on the first SecureString to send.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import TYPE_CHECKING

import anyio
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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


# MS-PSRP 2.2.2.3: a PUBLICKEYBLOB. BLOBHEADER (PUBLICKEYBLOB, version 2, CALG_RSA_KEYX)
# then RSAPUBKEY ("RSA1", bit length, exponent) and the modulus, little-endian throughout.
_KEY_BITS = 2048
_PUBLIC_KEY_HEADER = struct.pack("<BBHI4sI", 0x06, 0x02, 0, 0xA400, b"RSA1", _KEY_BITS)
# MS-PSRP 2.2.2.4: a SIMPLEBLOB. BLOBHEADER (SIMPLEBLOB, version 2, CALG_AES_256) and the
# ALG_ID it is sealed with (CALG_RSA_KEYX), then the RSA ciphertext, little-endian.
_SESSION_KEY_HEADER_SIZE = 12


def create_keypair() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A new RSA key and the PUBLICKEYBLOB that offers its public half to the host."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    numbers = private_key.public_key().public_numbers()
    modulus = numbers.n.to_bytes(_KEY_BITS // 8, "little")
    return private_key, _PUBLIC_KEY_HEADER + struct.pack("<I", numbers.e) + modulus


def decrypt_session_key(private_key: rsa.RSAPrivateKey, blob: bytes) -> bytes:
    """The AES key in the host's SIMPLEBLOB; ValueError when it is not sealed to `private_key`."""
    ciphertext = blob[_SESSION_KEY_HEADER_SIZE:][::-1]  # CryptoAPI writes it little-endian
    return private_key.decrypt(ciphertext, padding.PKCS1v15())


def _key_bytes(data: bytes, host: str) -> bytes:
    value = member(clixml.read(data), "EncryptedSessionKey")
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("the host's encrypted session key is not base64", host=host) from None

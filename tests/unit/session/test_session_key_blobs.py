"""The CryptoAPI key blobs of the session key exchange, byte for byte as MS-PSRP lays them out.

The end-to-end proof (psrpcore's server seals a key to our blob, a SecureString then
round-trips) is tests/integration/client/test_secure_string_simfleet.py.
"""

from __future__ import annotations

import os
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric import padding

from psfleet.session.session_key import create_keypair, decrypt_session_key

# MS-PSRP 2.2.2.3 and 2.2.2.4, written out from the spec's field tables.
# BLOBHEADER: type, version, reserved, ALG_ID; then "RSA1" and 2048 bits, or the ALG_ID
# the AES-256 key is sealed with.
PUBLICKEYBLOB_HEAD = bytes.fromhex("06 02 0000 00a40000 52534131 00080000")
SIMPLEBLOB_HEAD = bytes.fromhex("01 02 0000 10660000 00a40000")


def test_public_key_blob_carries_the_rsa_key_little_endian() -> None:
    private_key, blob = create_keypair()
    numbers = private_key.public_key().public_numbers()
    assert blob[:16] == PUBLICKEYBLOB_HEAD
    assert struct.unpack("<I", blob[16:20]) == (numbers.e,)
    assert len(blob) == 20 + 256
    assert int.from_bytes(blob[20:], "little") == numbers.n


def test_session_key_sealed_as_windows_does_opens() -> None:
    private_key, _ = create_keypair()
    aes_key = os.urandom(32)
    sealed = private_key.public_key().encrypt(aes_key, padding.PKCS1v15())
    assert decrypt_session_key(private_key, SIMPLEBLOB_HEAD + sealed[::-1]) == aes_key


def test_session_key_sealed_to_another_key_does_not_open() -> None:
    ours, _ = create_keypair()
    theirs, _ = create_keypair()
    aes_key = os.urandom(32)
    sealed = theirs.public_key().encrypt(aes_key, padding.PKCS1v15())
    # OpenSSL's implicit rejection (the Marvin attack fix) answers a wrong key with
    # deterministic noise instead of an error: whatever comes out, never the key.
    try:
        opened = decrypt_session_key(ours, SIMPLEBLOB_HEAD + sealed[::-1])
    except ValueError:
        return
    assert opened != aes_key


def test_a_truncated_blob_is_a_value_error() -> None:
    private_key, _ = create_keypair()
    with pytest.raises(ValueError):
        decrypt_session_key(private_key, SIMPLEBLOB_HEAD + bytes(100))

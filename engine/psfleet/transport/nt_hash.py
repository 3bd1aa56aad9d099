"""The NT hash of a password (MS-NLMP NTOWFv1: MD4 of its UTF-16LE bytes), NTLM's only key.

Why psfleet computes it: handed a password, pyspnego also derives the LM hash, in pure
Python DES (~0.8 ms a handshake) that NTLMv2 never uses; handed the NT hash
(`spnego.NTLMHash`, or the smbpasswd lines of pyspnego's NTLM_USER_FILE) it derives
nothing. And MD4 has no public API psfleet can use: hashlib offers it only where
OpenSSL's legacy provider is loaded (not by default since OpenSSL 3), cryptography has
none, pyspnego's is in a private module, and pycryptodome's would add a 17 MB native
dependency for 16 bytes per credential. MD4 has not changed since RFC 1320 (1992); the
tests check this one against the RFC's own test suite and a real NTLM handshake.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

_MASK = 0xFFFFFFFF


def nt_hash(password: str) -> bytes:
    """NTOWFv1(password): what a Windows account database stores for it."""
    return md4(password.encode("utf-16-le", errors="surrogatepass"))


def md4(data: bytes) -> bytes:
    """RFC 1320 MD4. Not for new uses: only as NTLM requires it."""
    padding = b"\x80" + bytes((55 - len(data)) % 64)
    message = data + padding + struct.pack("<Q", (len(data) * 8) & 0xFFFFFFFFFFFFFFFF)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    for start in range(0, len(message), 64):
        words = struct.unpack("<16I", message[start : start + 64])
        a, b, c, d = state
        for function, constant, order, shifts in _ROUNDS:
            for step, index in enumerate(order):
                total = (a + function(b, c, d) + words[index] + constant) & _MASK
                # RFC 1320 names the registers [abcd], [dabc], ... per step: rotate them.
                a, b, c, d = d, _rotate_left(total, shifts[step % 4]), b, c
        state = [(x + y) & _MASK for x, y in zip(state, (a, b, c, d), strict=True)]
    return struct.pack("<4I", *state)


def _rotate_left(value: int, count: int) -> int:
    return ((value << count) | (value >> (32 - count))) & _MASK


def _f(x: int, y: int, z: int) -> int:
    return (x & y) | (~x & z)


def _g(x: int, y: int, z: int) -> int:
    return (x & y) | (x & z) | (y & z)


def _h(x: int, y: int, z: int) -> int:
    return x ^ y ^ z


# RFC 1320 3.4: per round, its function, additive constant, word order and shifts.
_Round = tuple[Callable[[int, int, int], int], int, tuple[int, ...], tuple[int, ...]]
_ROUNDS: tuple[_Round, ...] = (
    (_f, 0, tuple(range(16)), (3, 7, 11, 19)),
    (_g, 0x5A827999, (0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), (3, 5, 9, 13)),
    (_h, 0x6ED9EBA1, (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), (3, 9, 11, 15)),
)

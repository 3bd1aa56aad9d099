"""Who an NTLM AUTHENTICATE message logs on as (MS-NLMP 2.2.1.3), read without validating it.

A host must know whose bad-password counter a failed logon counts against, and the
acceptor says only that it failed. The message names the user in clear, so reading
its domain and user fields is enough: sans-IO, no pyspnego internals.
"""

from __future__ import annotations

import struct

_SIGNATURE = b"NTLMSSP\x00\x03\x00\x00\x00"  # AUTHENTICATE (MessageType 3)
_DOMAIN_FIELDS = 28
_USER_FIELDS = 36
_FLAGS = 60
_NEGOTIATE_UNICODE = 0x00000001
_HEADER_SIZE = _FLAGS + 4


def authenticate_user(token: bytes) -> str | None:
    """`DOMAIN\\user` (or `user`, `user@DOMAIN` as the client typed it), or None.

    `token` may be the raw NTLM message or a SPNEGO token wrapping it: field offsets
    count from the message's own signature, so finding the signature is enough.
    """
    start = token.find(_SIGNATURE)
    if start < 0 or len(token) - start < _HEADER_SIZE:
        return None
    message = token[start:]
    (flags,) = struct.unpack_from("<I", message, _FLAGS)
    encoding = "utf-16-le" if flags & _NEGOTIATE_UNICODE else "latin-1"
    user = _field(message, _USER_FIELDS, encoding)
    if not user:
        return None  # anonymous, or a field that points outside the message
    domain = _field(message, _DOMAIN_FIELDS, encoding)
    return f"{domain}\\{user}" if domain else user


def _field(message: bytes, at: int, encoding: str) -> str | None:
    length, _max_length, offset = struct.unpack_from("<HHI", message, at)
    if offset + length > len(message):
        return None
    try:
        return message[offset : offset + length].decode(encoding)
    except UnicodeDecodeError:
        return None

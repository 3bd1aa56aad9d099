"""WinRM message encryption framing (MS-WSMV 2.2.9.1): sans-IO, shared by client and simfleet.

A SOAP body is wrapped by the connection's security context (NTLM, Kerberos or
CredSSP through pyspnego) and framed as `multipart/encrypted`; CredSSP bodies
larger than 16 KiB go as `multipart/x-multi-encrypted`, one part per 16 KiB chunk.
"""

from __future__ import annotations

import struct
from typing import Final, Protocol

from psfleet.errors import ProtocolError

SPNEGO_PROTOCOL: Final = "application/HTTP-SPNEGO-session-encrypted"
KERBEROS_PROTOCOL: Final = "application/HTTP-Kerberos-session-encrypted"
CREDSSP_PROTOCOL: Final = "application/HTTP-CredSSP-session-encrypted"
CREDSSP_CHUNK: Final = 16384

_BOUNDARY: Final = b"--Encrypted Boundary"
_OCTET_HEADER: Final = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH_MARK: Final = b"Length="
_END: Final = _BOUNDARY + b"--\r\n"


class WinRMCipher(Protocol):
    """The part of a pyspnego context that message encryption needs."""

    def wrap_winrm(self, data: bytes) -> tuple[bytes, bytes, int]: ...

    def unwrap_winrm(self, header: bytes, data: bytes) -> bytes: ...


def content_type(protocol: str, multi: bool = False) -> str:
    kind = "multipart/x-multi-encrypted" if multi else "multipart/encrypted"
    return f'{kind};protocol="{protocol}";boundary="Encrypted Boundary"'


def is_encrypted(content_type_header: str) -> bool:
    return content_type_header.lower().startswith(("multipart/encrypted", "multipart/x-multi"))


def protocol_of(content_type_header: str) -> str | None:
    """The protocol parameter of a multipart/encrypted Content-Type."""
    for part in content_type_header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "protocol":
            return value.strip('"')
    return None


def _wrap_part(cipher: WinRMCipher, protocol: str, message: bytes) -> tuple[bytes, bytes]:
    """(the part's headers and signature, its ciphertext): two buffers, the long one not copied."""
    header, data, padding = cipher.wrap_winrm(message)
    framing = b"".join(
        [
            _BOUNDARY,
            b"\r\n\tContent-Type: ",
            protocol.encode(),
            b"\r\n\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=",
            str(len(message) + padding).encode(),
            b"\r\n",
            _BOUNDARY,
            b"\r\n",
            _OCTET_HEADER,
            struct.pack("<i", len(header)),
            header,
        ]
    )
    return framing, data


def wrap_parts(cipher: WinRMCipher, protocol: str, message: bytes) -> tuple[str, list[bytes]]:
    """Encrypt a SOAP message; returns (Content-Type header, the body as buffers to write in
    turn). A Send's ciphertext is up to the envelope size: each join would copy it again."""
    if protocol == CREDSSP_PROTOCOL and len(message) > CREDSSP_CHUNK:
        parts = [
            buffer
            for i in range(0, len(message), CREDSSP_CHUNK)
            for buffer in _wrap_part(cipher, protocol, message[i : i + CREDSSP_CHUNK])
        ]
        return content_type(protocol, multi=True), [*parts, _END]
    return content_type(protocol), [*_wrap_part(cipher, protocol, message), _END]


def wrap(cipher: WinRMCipher, protocol: str, message: bytes) -> tuple[str, bytes]:
    """Encrypt a SOAP message; returns (Content-Type header, body)."""
    kind, parts = wrap_parts(cipher, protocol, message)
    return kind, b"".join(parts)


def _part_end(body: bytes, payload_at: int, expected: int) -> int:
    """Where the part's payload ends: the next boundary. NTLM's ciphertext is exactly the
    declared Length, so that boundary is looked for there first; scanning the ciphertext
    for it costs about 1 ms per MB. Other ciphers differ in length: then it is searched."""
    if len(body) >= payload_at + 4:
        header_length: int = struct.unpack_from("<i", body, payload_at)[0]
        guess = payload_at + 4 + header_length + expected
        if header_length >= 0 and body.startswith(_BOUNDARY, guess):
            return guess
    return body.find(_BOUNDARY, payload_at)


def unwrap(cipher: WinRMCipher, body: bytes) -> bytes:
    """Decrypt a multipart/encrypted (or x-multi-encrypted) body back into the SOAP message."""
    parts: list[bytes] = []
    position = 0
    while True:
        start = body.find(_BOUNDARY, position)
        if start < 0 or body.startswith(b"--", start + len(_BOUNDARY)):
            break
        length_at = body.find(_LENGTH_MARK, start)
        line_end = body.find(b"\r\n", length_at)
        octet_at = body.find(_OCTET_HEADER, line_end)
        if length_at < 0 or line_end < 0 or octet_at < 0:
            raise ProtocolError("malformed encrypted message: missing part headers")
        try:
            expected = int(body[length_at + len(_LENGTH_MARK) : line_end])
        except ValueError as exc:
            raise ProtocolError("malformed encrypted message: bad Length") from exc
        payload_at = octet_at + len(_OCTET_HEADER)
        part_end = _part_end(body, payload_at, expected)
        if part_end < 0 or part_end - payload_at < 4:
            raise ProtocolError("malformed encrypted message: truncated part")
        (header_length,) = struct.unpack_from("<i", body, payload_at)
        header_end = payload_at + 4 + header_length
        if header_length < 0 or header_end > part_end:
            raise ProtocolError("malformed encrypted message: bad header length")
        try:
            plain = cipher.unwrap_winrm(
                body[payload_at + 4 : header_end], body[header_end:part_end]
            )
        except Exception as exc:  # pyspnego raises several types for a bad signature
            raise ProtocolError(f"message decryption failed: {type(exc).__name__}") from exc
        # CredSSP declares Length with padding that unwrap strips: only a longer result is wrong.
        if len(plain) > expected:
            raise ProtocolError("decrypted length does not match the declared Length")
        parts.append(plain)
        position = part_end
    if not any(parts):
        raise ProtocolError("encrypted message has no parts")
    # One part (every NTLM or Kerberos body) is the message as it is: no copy.
    return parts[0] if len(parts) == 1 else b"".join(parts)

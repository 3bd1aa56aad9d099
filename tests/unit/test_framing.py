"""Message encryption framing round-trips through real pyspnego NTLM and CredSSP contexts."""

from pathlib import Path

import pytest
import spnego

from psfleet import errors
from psfleet.transport import framing


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users.ntlm"
    users.write_text("LAB:admin:psfleet-demo\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(users))


def _handshake(protocol: str) -> tuple[spnego.ContextProxy, spnego.ContextProxy]:
    client = spnego.client("LAB\\admin", "psfleet-demo", hostname="node01", protocol=protocol)
    server = spnego.server(protocol=protocol)
    token: bytes | None = client.step()
    while not server.complete:
        token = server.step(token)
        if token is not None and not client.complete:
            token = client.step(token)
    return client, server


@pytest.mark.usefixtures("ntlm_users")
def test_ntlm_round_trip_both_directions() -> None:
    client, server = _handshake("ntlm")
    message = b"<s:Envelope>" + b"x" * 5000 + b"</s:Envelope>"
    ctype, body = framing.wrap(client, framing.SPNEGO_PROTOCOL, message)
    assert ctype.startswith("multipart/encrypted;")
    assert framing.protocol_of(ctype) == framing.SPNEGO_PROTOCOL
    assert message not in body
    assert framing.unwrap(server, body) == message
    _, reply = framing.wrap(server, framing.SPNEGO_PROTOCOL, b"reply")
    assert framing.unwrap(client, reply) == b"reply"


@pytest.mark.usefixtures("ntlm_users")
@pytest.mark.parametrize("protocol", ["ntlm", "credssp"])
def test_a_body_written_as_its_buffers_in_turn_decrypts_whole(protocol: str) -> None:
    client, server = _handshake(protocol)
    message = bytes(range(256)) * 400  # a CredSSP body of seven parts
    kind = framing.CREDSSP_PROTOCOL if protocol == "credssp" else framing.SPNEGO_PROTOCOL
    ctype, parts = framing.wrap_parts(client, kind, message)
    assert framing.protocol_of(ctype) == kind
    assert framing.unwrap(server, b"".join(parts)) == message
    assert max(len(part) for part in parts) >= min(len(message), framing.CREDSSP_CHUNK)


@pytest.mark.usefixtures("ntlm_users")
def test_credssp_bodies_over_16k_are_multi_encrypted() -> None:
    client, server = _handshake("credssp")
    message = bytes(range(256)) * 200  # 51200 bytes: four chunks
    ctype, body = framing.wrap(client, framing.CREDSSP_PROTOCOL, message)
    assert ctype.startswith("multipart/x-multi-encrypted;")
    assert body.count(b"\tContent-Type: application/octet-stream") == 4
    assert framing.unwrap(server, body) == message
    small_type, small = framing.wrap(server, framing.CREDSSP_PROTOCOL, b"<small/>")
    assert small_type.startswith("multipart/encrypted;")
    assert framing.unwrap(client, small) == b"<small/>"


@pytest.mark.usefixtures("ntlm_users")
def test_tampered_or_truncated_body_is_a_protocol_error() -> None:
    client, server = _handshake("ntlm")
    _, body = framing.wrap(client, framing.SPNEGO_PROTOCOL, b"<secret/>")
    tampered = bytearray(body)
    tampered[-30] ^= 0xFF
    with pytest.raises(errors.ProtocolError):
        framing.unwrap(server, bytes(tampered))
    with pytest.raises(errors.ProtocolError):
        framing.unwrap(server, body[: len(body) // 2])
    with pytest.raises(errors.ProtocolError):
        framing.unwrap(server, b"plain text")


@pytest.mark.usefixtures("ntlm_users")
def test_a_part_longer_declared_than_its_ciphertext_is_found_by_its_boundary() -> None:
    # NTLM's ciphertext is exactly Length long (found there at once); a cipher that pads
    # declares more than it sends, and the part still ends at the next boundary.
    client, server = _handshake("ntlm")
    message = b"<s:Envelope>" + b"y" * 3000 + b"</s:Envelope>"
    _, body = framing.wrap(client, framing.SPNEGO_PROTOCOL, message)
    declared = f"Length={len(message)}\r\n".encode()
    assert declared in body
    padded = body.replace(declared, f"Length={len(message) + 8}\r\n".encode())
    assert framing.unwrap(server, padded) == message

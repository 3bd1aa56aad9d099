"""Reading who an NTLM AUTHENTICATE message logs on as, from real pyspnego tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
import spnego

from psfleet.simfleet.accounts import Account, Accounts
from psfleet.simfleet.ntlm_logon import authenticate_user


@pytest.fixture(autouse=True)
def ntlm_user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    accounts = Accounts([Account("LAB", "admin", "right")])
    monkeypatch.setenv("NTLM_USER_FILE", str(accounts.write_ntlm_file(tmp_path / "users")))


def tokens(user: str, password: str, protocol: str) -> list[bytes]:
    """Every token the client sends, up to its AUTHENTICATE, against a real acceptor."""
    client = spnego.client(user, password, protocol=protocol)
    server = spnego.server(protocol=protocol)
    sent = [client.step()]
    challenge = server.step(sent[0])
    sent.append(client.step(challenge))
    return sent


@pytest.mark.parametrize("protocol", ["ntlm", "negotiate"])
@pytest.mark.parametrize("user", ["LAB\\admin", "admin@LAB", "Ádmïn"])
@pytest.mark.parametrize("password", ["right", "wrong"])
def test_the_authenticate_message_names_the_user_as_typed(
    protocol: str, user: str, password: str
) -> None:
    negotiate, authenticate = tokens(user, password, protocol)
    assert authenticate_user(authenticate) == user
    assert authenticate_user(negotiate) is None  # NEGOTIATE names nobody


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"garbage",
        b"NTLMSSP\x00\x03\x00\x00\x00",  # truncated header
        b"NTLMSSP\x00\x03\x00\x00\x00" + b"\xff" * 60,  # fields pointing past the end
        b"NTLMSSP\x00\x03\x00\x00\x00" + b"\x00" * 60,  # anonymous: empty user
    ],
)
def test_anything_else_names_nobody(token: bytes) -> None:
    assert authenticate_user(token) is None

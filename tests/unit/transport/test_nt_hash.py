"""psfleet's NT hash: RFC 1320's MD4 test suite, MS-NLMP's example, a real NTLM handshake."""

from __future__ import annotations

from pathlib import Path

import pytest
import spnego
from spnego.exceptions import SpnegoError

from psfleet.transport.nt_hash import md4, nt_hash

# RFC 1320 A.5, the whole test suite.
RFC_1320 = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "043f8582f241db351ce627e153e7f0e4",
    ),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]


@pytest.mark.parametrize(("data", "digest"), RFC_1320)
def test_md4_matches_the_rfc_test_suite(data: bytes, digest: str) -> None:
    assert md4(data).hex() == digest


# Lengths where the padding and the bit count just fit in a block, or spill into the
# next; digests from an independent MD4 (pyspnego 0.12.4's, computed once).
BOUNDARIES = [
    (55, "92f32bb82c95ad10e8f87ae58ab06807"),
    (56, "374d5f08103b7092c83b4626ebceffab"),
    (63, "2870452596e98fffd48332289b3472b9"),
    (64, "b1abf956a5ae6f3221e5fe85e300fbb0"),
    (119, "b55ae15e41e55643b0c3daad5e05c905"),
    (120, "d8f9adfc41ec43552619606c70cfd287"),
]


@pytest.mark.parametrize(("size", "digest"), BOUNDARIES)
def test_md4_pads_across_block_boundaries(size: int, digest: str) -> None:
    assert md4(b"x" * size).hex() == digest


def test_nt_hash_matches_ms_nlmp_example() -> None:
    # MS-NLMP 4.2.2.1.2: NTOWFv1("Password").
    assert nt_hash("Password").hex() == "a4f49c406510bdcab6824ee7c30fd852"


def test_nt_hash_encodes_non_ascii_as_utf16() -> None:
    assert nt_hash("pässwörd€") == md4("pässwörd€".encode("utf-16-le"))


def _handshake(client: spnego.ContextProxy, server: spnego.ContextProxy) -> None:
    token = client.step()
    while token is not None and not server.complete:
        token = server.step(token)
        if token is not None:
            token = client.step(token)


@pytest.mark.parametrize(("password", "accepted"), [("psfleet-demo", True), ("wrong", False)])
def test_pyspnego_acceptor_takes_the_hash_as_the_password(
    password: str, accepted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The acceptor holds only the stored hash (smbpasswd line, no LM hash, as Windows
    # stores it); the client derives its own from the password, inside pyspnego.
    store = tmp_path / "ntlm-users"
    store.write_text(f"LAB\\admin:1000:{'0' * 32}:{nt_hash('psfleet-demo').hex()}:[U]:LCT-0\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(store))
    client = spnego.client("LAB\\admin", password, protocol="ntlm")
    server = spnego.server(protocol="ntlm")
    if accepted:
        _handshake(client, server)
        assert server.complete
        assert server.client_principal == "LAB\\admin"
    else:
        with pytest.raises(SpnegoError):
            _handshake(client, server)

"""tls-server-end-point channel bindings (RFC 5929) are the ones pypsrp, and so Windows, expect."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pypsrp.negotiate import HTTPNegotiateAuth

from psfleet.transport.bindings import certificate_hash, tls_server_end_point


def _certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, digest: hashes.HashAlgorithm
) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node01.lab.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, digest)
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    ("key", "digest", "size"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA256(), 32),
        (ec.generate_private_key(ec.SECP384R1()), hashes.SHA384(), 48),
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), hashes.SHA512(), 64),
    ],
    ids=["rsa-sha256", "ecdsa-sha384", "rsa-sha512"],
)
def test_the_hash_follows_the_signature_algorithm_as_pypsrp_computes_it(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, digest: hashes.HashAlgorithm, size: int
) -> None:
    der = _certificate(key, digest)
    ours = certificate_hash(der)
    assert len(ours) == size
    assert ours == hashlib.new(digest.name, der).digest()
    assert ours == HTTPNegotiateAuth._get_certificate_hash(der)


def test_the_bindings_carry_the_hash_behind_the_rfc_5929_prefix() -> None:
    der = _certificate(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    bindings = tls_server_end_point(der)
    assert bindings.application_data == b"tls-server-end-point:" + hashlib.sha256(der).digest()
    assert bindings.initiator_address is None and bindings.acceptor_address is None

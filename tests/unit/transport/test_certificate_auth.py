"""Client-certificate auth over HTTPS, against a replay server that requires a client certificate.

(simfleet does not map client certificates yet, so this runs against the replay server.)
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from psfleet import errors
from psfleet.client import connect
from psfleet.transport.auth import CERTIFICATE_AUTHORIZATION
from tests.support.replay import ReplayServer

pytestmark = pytest.mark.anyio


def _issue(
    subject: str,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    sans: list[x509.GeneralName] | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    issuer_name, issuer_key = issuer or (name, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _issue("psfleet test CA", None, ca=True)
    issuer = (ca_cert.subject, ca_key)
    server = _issue(
        "node01",
        issuer,
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        sans=[x509.DNSName("node01"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _issue("admin", issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    paths = {name: directory / f"{name}.pem" for name in ("ca", "server", "client")}
    paths["ca"].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(paths["server"], *server)
    _write(paths["client"], *client)
    return paths


def _server_context(pki: dict[str, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki["server"])
    context.load_verify_locations(pki["ca"])
    context.verify_mode = ssl.CERT_REQUIRED
    return context


async def test_client_certificate_opens_a_pool(pki: dict[str, Path]) -> None:
    async with ReplayServer("test_psrp_open_runspace", ssl_context=_server_context(pki)) as server:
        async with connect(
            "node01",
            address="127.0.0.1",
            port=server.port,
            tls=True,
            auth="certificate",
            ca_file=pki["ca"],
            client_cert=pki["client"],
        ) as pool:
            assert pool.protocol_version == "2.3"
        assert server.unplayed == [] and server.mismatches == []
    assert set(server.authorizations) == {CERTIFICATE_AUTHORIZATION}
    # Every request came over a TLS connection that presented the client certificate.
    assert all("'admin'" in str(cert) for cert in server.peer_certificates)


async def test_certificate_auth_without_https_is_refused() -> None:
    with pytest.raises(errors.UsageError, match="HTTPS"):
        async with connect("node01", auth="certificate"):
            pass

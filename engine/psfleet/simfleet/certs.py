"""A throwaway CA and one certificate per simulated host, made at start for --tls.

All host certificates share one EC key: signing 5000 certificates then takes a second
or two, where a key each would take minutes. The hosts are simulated; nothing else
trusts this CA. The same CA issues client certificates for certificate auth, mapped to
accounts by the UPN in their subject alternative name, as WinRM's certificate mapping does.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

_VALIDITY = dt.timedelta(days=7)
# Microsoft's UPN otherName (szOID_NT_PRINCIPAL_NAME), a DER UTF8String.
UPN_OID = ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")
_UTF8_STRING = 0x0C


@dataclass(frozen=True, slots=True)
class HostIdentity:
    name: str
    fqdn: str
    address: str


class FleetCA:
    """Created once per fleet; worker processes load the same CA from its directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.certificates: dict[str, bytes] = {}  # DER of each host certificate issued, by name
        directory.mkdir(parents=True, exist_ok=True)
        keys = directory / "ca-key.pem"
        if keys.exists():
            self._load(keys)
        else:
            self._create(keys)

    def _load(self, keys: Path) -> None:
        ca_key_pem, host_key_pem = keys.read_bytes().split(b"\n\n", 1)
        ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
        host_key = serialization.load_pem_private_key(host_key_pem, password=None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        assert isinstance(host_key, ec.EllipticCurvePrivateKey)
        self._ca_key, self._host_key = ca_key, host_key
        self.ca_file = self.directory / "ca.pem"
        self._ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        self._ca_name = self._ca_cert.subject
        self._not_before = self._ca_cert.not_valid_before_utc
        self._not_after = self._ca_cert.not_valid_after_utc
        self._key_pem = _pem(self._host_key)

    def _create(self, keys: Path) -> None:
        self._ca_key = ec.generate_private_key(ec.SECP256R1())
        self._host_key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self._not_before = now - dt.timedelta(hours=1)
        self._not_after = now + _VALIDITY
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "psfleet simfleet CA")])
        self._ca_name = name
        self._ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        self.ca_file = self.directory / "ca.pem"
        self.ca_file.write_bytes(self._ca_cert.public_bytes(serialization.Encoding.PEM))
        self._key_pem = _pem(self._host_key)
        keys.write_bytes(_pem(self._ca_key) + b"\n" + self._key_pem)
        keys.chmod(0o600)

    def issue(self, host: HostIdentity) -> Path:
        """Write host.pem (certificate then key) and return its path."""
        names: list[x509.GeneralName] = [
            x509.DNSName(host.name),
            x509.DNSName(host.fqdn),
            x509.IPAddress(ipaddress.ip_address(host.address)),
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host.fqdn)]))
            .issuer_name(self._ca_name)
            .public_key(self._host_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
            )
            .sign(self._ca_key, hashes.SHA256())
        )
        path = self.directory / f"{host.name}.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self._key_pem)
        self.certificates[host.name] = cert.public_bytes(serialization.Encoding.DER)
        return path

    def issue_client(self, upn: str) -> tuple[Path, Path]:
        """Write a user certificate (UPN otherName, clientAuth) and its key; return both paths."""
        key = ec.generate_private_key(ec.SECP256R1())
        user = upn.partition("@")[0]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user)]))
            .issuer_name(self._ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._not_before)
            .not_valid_after(self._not_after)
            .add_extension(
                x509.SubjectAlternativeName([x509.OtherName(UPN_OID, _der_utf8(upn))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._ca_key, hashes.SHA256())
        )
        stem = self.directory / f"client-{re.sub(r'[^A-Za-z0-9@._-]', '_', upn)}"
        cert_path, key_path = Path(f"{stem}.pem"), Path(f"{stem}-key.pem")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem(key))
        key_path.chmod(0o600)
        return cert_path, key_path

    def server_context(self, host: HostIdentity) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.issue(host))
        # Requested, not required: Basic and Negotiate clients send no certificate. One
        # that is sent must chain to this CA, or the handshake fails. Only this CA is
        # loaded, not the system store (about 0.3 ms a host; from the file is fastest).
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(self.ca_file)
        return context


def mapped_upn(der: bytes) -> str | None:
    """The UPN a certificate maps by, if it is meant for client authentication at all."""
    try:
        cert = x509.load_der_x509_certificate(der)
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    if ExtendedKeyUsageOID.CLIENT_AUTH not in usage:
        return None
    for name in names.get_values_for_type(x509.OtherName):
        if name.type_id == UPN_OID:
            return _read_der_utf8(name.value)
    return None


def _der_utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) < 0x80:
        return bytes([_UTF8_STRING, len(raw)]) + raw
    size = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([_UTF8_STRING, 0x80 | len(size)]) + size + raw


def _read_der_utf8(der: bytes) -> str | None:
    if len(der) < 2 or der[0] != _UTF8_STRING:
        return None
    length, start = der[1], 2
    if length & 0x80:  # long form: the next (length & 0x7F) bytes hold the length
        start += length & 0x7F
        length = int.from_bytes(der[2:start], "big")
    if start + length != len(der):
        return None
    try:
        return der[start:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

"""TLS channel binding (RFC 5929 tls-server-end-point): ties an auth handshake to its TLS session.

With Extended Protection (WinRM's CbtHardeningLevel), a host accepts NTLM or Kerberos
over HTTPS only when the handshake carries a hash of the certificate the client saw:
a TLS-intercepting machine in the middle presents another certificate, so a handshake
it relays does not verify. Shared by the client and simfleet.
"""

from __future__ import annotations

import functools
import hashlib

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from spnego.channel_bindings import GssChannelBindings

_PREFIX = b"tls-server-end-point:"
# RFC 5929 4.1: MD5 and SHA-1 signatures are hashed with SHA-256 instead.
_WEAK = frozenset({"md5", "sha1"})


def certificate_hash(der: bytes) -> bytes:
    """The certificate's hash with its own signature's algorithm (SHA-256 for weak ones)."""
    try:
        algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    except (UnsupportedAlgorithm, ValueError):
        algorithm = None  # e.g. Ed25519 has no separate hash: SHA-256, as Windows does
    name = algorithm.name if algorithm is not None else "sha256"
    return hashlib.new("sha256" if name in _WEAK else name, der).digest()


@functools.lru_cache(maxsize=1024)
def tls_server_end_point(der: bytes) -> GssChannelBindings:
    """The channel bindings for a host certificate (cached: a host shows the same one)."""
    return GssChannelBindings(application_data=_PREFIX + certificate_hash(der))

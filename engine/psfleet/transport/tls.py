"""SSL contexts for HTTPS listeners, built once per set of options and shared by all hosts."""

from __future__ import annotations

import functools
import ssl

from psfleet.errors import UsageError
from psfleet.transport.options import TLSOptions


@functools.lru_cache(maxsize=32)
def ssl_context(options: TLSOptions) -> ssl.SSLContext:
    """Verification on by default; loading a CA bundle costs milliseconds, hence the cache."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if options.insecure_skip_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif options.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(options.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load the CA bundle {options.ca_file}: {exc}") from None
    if options.client_cert is not None:
        try:
            context.load_cert_chain(
                str(options.client_cert),
                str(options.client_key) if options.client_key is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"cannot load the client certificate: {exc}") from None
    return context

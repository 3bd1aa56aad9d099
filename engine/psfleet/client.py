"""`psfleet.connect()`: open a PowerShell runspace pool on one host.

    async with psfleet.connect("node01", auth="ntlm", credential=("LAB\\\\admin", pw)) as pool:
        result = await pool.invoke("Get-Service winrm")

`connect()` is one host on its own, with its own credential broker. A fan-out builds one
`ClientOptions` for all hosts (shared SSL context, credentials and the run's broker) and
opens each host's pool with `open_pool`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from psfleet.errors import UsageError
from psfleet.session.pool import RunspacePool
from psfleet.transport.credentials import CredentialBroker
from psfleet.transport.delegation import DelegationAllowlist
from psfleet.transport.host import HostTransport
from psfleet.transport.options import (
    AuthMethod,
    AuthOptions,
    Credential,
    Endpoint,
    Timeouts,
    TLSOptions,
)

CredentialSource = Credential | tuple[str, str] | Literal["env", "prompt", "kerberos"] | None
DelegateTo = Iterable[str] | Callable[[str], bool] | None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything but the host: build it once, share it across a fan-out."""

    auth: AuthOptions = field(default_factory=AuthOptions)
    tls: TLSOptions = field(default_factory=TLSOptions)
    timeouts: Timeouts = field(default_factory=Timeouts)
    configuration: str = "Microsoft.PowerShell"  # or a JEA configuration name
    min_runspaces: int = 1
    max_runspaces: int = 1
    max_envelope_size: int | None = None  # None: 150 KB, raised to 500 KB on PSRP 2.2+ hosts


# The keyword defaults below are read from the option classes: a default lives in one place.
_AUTH, _TLS, _CLIENT = AuthOptions(), TLSOptions(), ClientOptions()


def client_options(
    *,
    auth: AuthMethod | str = _AUTH.method,
    credential: CredentialSource = None,
    delegate: bool = _AUTH.delegate,
    delegate_to: DelegateTo = None,
    allow_basic_over_http: bool = _AUTH.allow_basic_over_http,
    ca_file: Path | str | None = _TLS.ca_file,
    client_cert: Path | str | None = _TLS.client_cert,
    client_key: Path | str | None = _TLS.client_key,
    insecure_skip_tls_verify: bool = _TLS.insecure_skip_tls_verify,
    channel_binding: bool = _AUTH.channel_binding,
    max_auth_failures: int = _AUTH.max_auth_failures,
    configuration: str = _CLIENT.configuration,
    min_runspaces: int = _CLIENT.min_runspaces,
    max_runspaces: int = _CLIENT.max_runspaces,
    timeouts: Timeouts | None = None,
    max_envelope_size: int | None = _CLIENT.max_envelope_size,
) -> ClientOptions:
    method = AuthMethod(auth)
    return ClientOptions(
        auth=AuthOptions(
            method=method,
            credential=resolve_credential(credential, method),
            delegate=delegate,
            allow_basic_over_http=allow_basic_over_http,
            credssp_allowed=_allowlist(delegate_to),
            channel_binding=channel_binding,
            max_auth_failures=max_auth_failures,
        ),
        tls=TLSOptions(
            ca_file=ca_file,
            client_cert=client_cert,
            client_key=client_key,
            insecure_skip_tls_verify=insecure_skip_tls_verify,
        ),
        timeouts=timeouts or Timeouts(),
        configuration=configuration,
        min_runspaces=min_runspaces,
        max_runspaces=max_runspaces,
        max_envelope_size=max_envelope_size,
    )


def resolve_credential(source: CredentialSource, method: AuthMethod) -> Credential | None:
    """Arguments, then PSFLEET_USER/PSFLEET_PASSWORD, then the Kerberos cache."""
    if isinstance(source, Credential):
        return source
    if isinstance(source, tuple):
        return Credential(*source)
    if source == "prompt":
        return Credential.prompt()
    if source == "kerberos":
        return Credential.kerberos_cache()
    from_env = Credential.from_env()
    if source == "env" and from_env is None:
        raise UsageError("PSFLEET_USER is not set")
    if from_env is not None or method is AuthMethod.CERTIFICATE:
        return from_env
    if method in (AuthMethod.NEGOTIATE, AuthMethod.KERBEROS):
        return Credential.kerberos_cache()
    raise UsageError(f"{method.value} auth needs a credential (or PSFLEET_USER/PSFLEET_PASSWORD)")


def _allowlist(delegate_to: DelegateTo) -> Callable[[str], bool] | None:
    if delegate_to is None or callable(delegate_to):
        return delegate_to
    return DelegationAllowlist(delegate_to)


class Connection:
    """`async with connect(...) as pool`: the pool is open inside and deleted on exit."""

    def __init__(self, endpoint: Endpoint, options: ClientOptions) -> None:
        self.endpoint = endpoint
        self.options = options
        self._pool: RunspacePool | None = None

    async def __aenter__(self) -> RunspacePool:
        self._pool = await open_lone_pool(self.endpoint, self.options)
        return self._pool

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def connect(
    host: str,
    *,
    address: str | None = None,
    port: int | None = None,
    tls: bool = False,
    options: ClientOptions | None = None,
    auth: AuthMethod | str = AuthMethod.NEGOTIATE,
    credential: CredentialSource = None,
    **settings: Any,
) -> Connection:
    """A runspace pool on `host` (its inventory name; `address` to connect elsewhere).

    Pass either `options` (shared by many hosts) or the keyword settings of
    `client_options()`.
    """
    if options is None:
        options = client_options(auth=auth, credential=credential, **settings)
    elif settings or credential is not None:
        raise UsageError("pass either options= or individual settings, not both")
    return Connection(Endpoint(host, address=address, port=port, tls=tls), options)


@contextlib.contextmanager
def shared_broker(options: ClientOptions) -> Iterator[ClientOptions]:
    """`options` whose hosts share one credential broker in the block (one ticket, one
    lockout guard): many hosts' pools outside a fan-out, which brings its run's own."""
    auth, broker = CredentialBroker.attach(options.auth, options.timeouts)
    try:
        yield dataclasses.replace(options, auth=auth)
    finally:
        if broker is not None:
            broker.close()


async def open_pool(
    endpoint: Endpoint, options: ClientOptions, pool_id: uuid.UUID | None = None
) -> RunspacePool:
    """Open a pool on a host of a run: `options.auth` carries the run's credential broker
    (`shared_broker`); one host on its own: `open_lone_pool`. The caller must
    `await pool.aclose()`. Nothing stays open on failure.

    `pool_id`: chosen beforehand (its ShellId follows from it), to be recorded first."""
    return await _opened(new_pool(endpoint, options, pool_id))


async def open_lone_pool(endpoint: Endpoint, options: ClientOptions) -> RunspacePool:
    """Open a pool on one host outside any run (psfleet.connect, psfleet shell, a --cluster
    query): its connection keeps a credential broker of its own, closed with the pool."""
    transport = HostTransport.alone(
        endpoint, options.auth, options.tls, options.timeouts, max_channels=_channels(options)
    )
    return await _opened(_pool_on(transport, options, None))


async def _opened(pool: RunspacePool) -> RunspacePool:
    try:
        await pool.open()
    except BaseException:
        await pool.aclose()
        raise
    return pool


async def reconnect_pool(
    endpoint: Endpoint, options: ClientOptions, pool_id: uuid.UUID
) -> RunspacePool:
    """Connect to a pool a client left disconnected (`RunspacePool.disconnect`); then
    `pool.attach(pipeline_id)` gives its pipelines. The caller must `await pool.aclose()`
    (which deletes the pool); a pool that cannot be connected is left as it was."""
    pool = new_pool(endpoint, options, pool_id)
    try:
        await pool.connect()
    except BaseException:
        await pool.transport.aclose()
        raise
    return pool


def new_pool(
    endpoint: Endpoint, options: ClientOptions, pool_id: uuid.UUID | None = None
) -> RunspacePool:
    """A pool not opened yet, for a caller that must decide when its cleanup runs (after
    reporting a deadline, say): `await pool.open()`, then `await pool.aclose()` in every
    case, failure included (it is idempotent and a no-op for a disconnected pool).
    `options.auth` carries the run's credential broker, as for `open_pool`."""
    transport = HostTransport(
        endpoint, options.auth, options.tls, options.timeouts, max_channels=_channels(options)
    )
    return _pool_on(transport, options, pool_id)


def _channels(options: ClientOptions) -> int:
    return options.max_runspaces + 1  # one more for Signal/Send while all poll


def _pool_on(
    transport: HostTransport, options: ClientOptions, pool_id: uuid.UUID | None
) -> RunspacePool:
    return RunspacePool(
        transport,
        configuration=options.configuration,
        min_runspaces=options.min_runspaces,
        max_runspaces=options.max_runspaces,
        max_envelope_size=options.max_envelope_size,
        pool_id=pool_id,
    )

"""Each way a host can fail gives its typed error, within its timeout, and leaves no socket open.

The servers here are real aiohttp servers on 127.0.0.1 that misbehave on purpose.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import psutil
import pytest
from aiohttp import web

from psfleet import errors
from psfleet.client import connect
from psfleet.transport import Timeouts
from psfleet.wsman import parse_envelope
from psfleet.wsman.faults import FaultCode, build_fault

pytestmark = pytest.mark.anyio

PASSWORD = "s3cret-Passw0rd"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAST = Timeouts(connect=1.0, request=1.0, operation=1.0, close=1.0)


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTP server on an ephemeral port; yields (port, bodies received)."""
    bodies: list[bytes] = []

    async def record(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.read())
        return await handler(request)

    app = web.Application()
    app.router.add_post("/wsman", record)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await web.SockSite(runner, listener).start()
    try:
        yield port, bodies
    finally:
        await runner.cleanup()


def open_connections(port: int) -> int:
    return sum(
        1
        for c in psutil.Process().net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


async def open_basic(port: int, **settings: object) -> None:
    async with connect(
        "127.0.0.1",
        port=port,
        auth="basic",
        credential=("LAB\\admin", PASSWORD),
        allow_basic_over_http=True,
        timeouts=FAST,
        **settings,
    ):
        raise AssertionError("the pool should not open")


def assert_no_secret(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), str(exc.__cause__), str(exc.__context__)):
        assert PASSWORD not in text


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_refused_connection_is_a_retryable_connect_error() -> None:
    with pytest.raises(errors.ConnectError) as raised:
        await open_basic(free_port())
    assert raised.value.retryable
    assert raised.value.status.value == "unreachable"
    assert_no_secret(raised.value)


async def test_dns_failure_is_a_connect_error() -> None:
    with pytest.raises(errors.ConnectError) as raised:
        async with connect(
            "no-such-host.invalid",
            auth="basic",
            credential=("u", PASSWORD),
            allow_basic_over_http=True,
            timeouts=FAST,
        ):
            pass
    assert not isinstance(raised.value, errors.TLSError)
    assert raised.value.host == "no-such-host.invalid"


async def test_silent_host_times_out_within_the_request_timeout() -> None:
    released = anyio.Event()

    async def never(request: web.Request) -> web.StreamResponse:
        await released.wait()
        return web.Response(status=503)

    async with serving(never) as (port, _):
        started = time.monotonic()
        with pytest.raises(errors.OperationTimeout) as raised:
            await open_basic(port)
        # Create waits `request`; it went out unanswered, so a shell may exist and the
        # Delete (by the ShellId psfleet chose) gets the close timeout.
        assert time.monotonic() - started < FAST.request + FAST.close + 1.0
        assert raised.value.retryable
        await anyio.sleep(0.05)
        assert open_connections(port) == 0
        released.set()


async def test_401_is_an_auth_error_without_the_password() -> None:
    async def reject(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})

    async with serving(reject) as (port, _):
        with pytest.raises(errors.AuthError) as raised:
            await open_basic(port)
        assert raised.value.status.value == "auth_failed"
        assert not raised.value.retryable
        assert_no_secret(raised.value)
        assert open_connections(port) == 0


async def test_quota_fault_is_typed_and_retryable() -> None:
    async def quota(request: web.Request) -> web.StreamResponse:
        message_id = parse_envelope(await request.read()).message_id
        body = build_fault(
            FaultCode.QUOTA_MAX_SHELLS,
            "The WS-Management service cannot process the request. This user is allowed a "
            "maximum number of 30 concurrent shells, which has been exceeded.",
            relates_to=message_id,
            machine="node01",
        )
        return web.Response(status=500, body=body, content_type="application/soap+xml")

    async with serving(quota) as (port, _):
        with pytest.raises(errors.QuotaExceeded) as raised:
            await open_basic(port)
        assert raised.value.code == FaultCode.QUOTA_MAX_SHELLS
        assert raised.value.machine == "node01"
        assert raised.value.retryable
        assert "30 concurrent shells" in raised.value.message


async def test_malformed_xml_is_a_protocol_error() -> None:
    async def garbage(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"<s:Envelope><unclosed>", content_type="application/soap+xml")

    async with serving(garbage) as (port, _):
        with pytest.raises(errors.ProtocolError):
            await open_basic(port)


async def test_http_error_without_fault_is_an_http_status_error() -> None:
    async def unavailable(request: web.Request) -> web.StreamResponse:
        return web.Response(status=503, text="busy")

    async with serving(unavailable) as (port, _):
        with pytest.raises(errors.HTTPStatusError) as raised:
            await open_basic(port)
        assert raised.value.http_status == 503
        assert raised.value.is_transient


async def test_credssp_to_a_host_outside_the_allowlist_sends_nothing() -> None:
    async def accept(request: web.Request) -> web.StreamResponse:
        return web.Response(status=401, headers={"WWW-Authenticate": "CredSSP"})

    async with serving(accept) as (port, bodies):
        for allowlist in (None, ["node02"]):
            with pytest.raises(errors.DelegationRefused) as raised:
                async with connect(
                    "node01",
                    address="127.0.0.1",
                    port=port,
                    auth="credssp",
                    credential=("LAB\\admin", PASSWORD),
                    delegate_to=allowlist,
                    timeouts=FAST,
                ):
                    pass
            assert_no_secret(raised.value)
        assert bodies == []
        assert open_connections(port) == 0


async def test_basic_over_plain_http_is_refused_before_sending() -> None:
    async def accept(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500)

    async with serving(accept) as (port, bodies):
        with pytest.raises(errors.UsageError, match="HTTPS"):
            async with connect(
                "127.0.0.1", port=port, auth="basic", credential=("u", PASSWORD), timeouts=FAST
            ):
                pass
        assert bodies == []

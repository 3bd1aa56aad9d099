"""WSMan Identify: answered without a login when asked as unauthenticated, like Windows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from psfleet.simfleet import SimConfig, SimFleet
from psfleet.wsman import parse_envelope
from psfleet.wsman.identify import IDENTIFY_REQUEST, parse_identify_response

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with SimFleet(SimConfig(hosts=1, base_address="127.1.60.1", port=0)) as fleet:
        host = fleet.hosts[0]
        yield f"http://{host.address}:{host.port}/wsman"


async def test_unauthenticated_identify_gets_the_product_version(url: str) -> None:
    headers = {
        "Content-Type": "application/soap+xml;charset=UTF-8",
        "WSMANIDENTIFY": "unauthenticated",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=IDENTIFY_REQUEST, headers=headers) as response,
    ):
        assert response.status == 200
        result = parse_identify_response(parse_envelope(await response.read()).body)
    assert result.product_vendor == "Microsoft Corporation"
    assert result.product_version.startswith("OS: 10.0.")


async def test_anything_else_without_a_login_is_401(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=IDENTIFY_REQUEST) as response:
            assert response.status == 401
            assert "Negotiate" in response.headers.getall("WWW-Authenticate")
        async with session.post(
            url, data=b"<not-identify/>", headers={"WSMANIDENTIFY": "unauthenticated"}
        ) as response:
            assert response.status == 401

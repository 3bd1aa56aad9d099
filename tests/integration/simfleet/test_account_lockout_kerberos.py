"""A locked account is refused over Kerberos too, although its ticket is still valid.

The KDC checks Kerberos passwords, so a wrong one never reaches a host; but the
account's lock is the domain's, and every host honours it for every scheme.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from psfleet import errors
from psfleet.client import connect
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.testing.kdc import MitKdc, available

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def kdc() -> Iterator[MitKdc]:
    if not available():
        pytest.skip("the MIT KDC packages are not installed")
    with MitKdc(hosts=("node01", "node02")) as server, server.applied_env():
        server.kinit()
        yield server


async def test_a_locked_account_is_refused_over_kerberos(kdc: MitKdc) -> None:
    config = SimConfig(
        hosts=2,
        base_address="127.8.40.1",
        port=0,
        kerberos_keytab=kdc.keytab,
        lockout_threshold=1,
    )
    async with SimFleet(config) as fleet:
        first, second = fleet.hosts

        async def kerberos_logon() -> None:
            async with connect(
                second.name,
                address=second.address,
                port=second.port,
                auth="kerberos",
                credential="kerberos",
            ) as pool:
                assert (await pool.invoke("$env:COMPUTERNAME")).output == ["NODE02"]

        await kerberos_logon()
        with pytest.raises(errors.AuthError):
            async with connect(
                first.name,
                address=first.address,
                port=first.port,
                auth="ntlm",
                credential=("LAB\\admin", "wrong"),
            ):
                pass
        with pytest.raises(errors.AuthError):
            await kerberos_logon()
        account = fleet.stats()["accounts"]["LAB\\admin"]
        assert account["locked"] is True and account["failed_logons"] == 2

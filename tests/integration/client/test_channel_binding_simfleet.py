"""Extended Protection over HTTPS: NTLM bound to the host's certificate (CbtHardeningLevel).

A host at Strict refuses a handshake without the binding; psfleet sends it by default.
"""

from __future__ import annotations

from typing import Any

import pytest

from psfleet import errors
from psfleet.client import connect
from psfleet.simfleet import SimFleet

from .conftest import PASSWORD, USER, FleetFactory

pytestmark = pytest.mark.anyio


def over_https(fleet: SimFleet, **settings: Any) -> Any:
    host = fleet.hosts[0]
    return connect(
        host.name,
        address=host.address,
        port=host.port,
        tls=True,
        ca_file=fleet.ca_file,
        auth="ntlm",
        credential=(USER, PASSWORD),
        **settings,
    )


async def test_a_strict_host_accepts_ntlm_bound_to_its_certificate(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(tls=True, cbt_hardening="strict")
    async with over_https(fleet) as pool:
        result = await pool.invoke("hostname")
    assert result.output == ["NODE01"]
    assert fleet.stats()["auth_failures"] == 0
    assert fleet.stats()["shells_open"] == 0


async def test_a_strict_host_refuses_ntlm_without_the_binding(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(tls=True, cbt_hardening="strict")
    with pytest.raises(errors.AuthError) as raised:
        async with over_https(fleet, channel_binding=False):
            pass
    assert PASSWORD not in str(raised.value)
    assert fleet.stats()["auth_failures"] == 1
    assert fleet.stats()["shells_opened"] == 0


async def test_a_relaxed_host_accepts_ntlm_with_or_without_the_binding(
    fleet_factory: FleetFactory,
) -> None:
    fleet = await fleet_factory(tls=True)  # Windows' default: Relaxed
    for binding in (True, False):
        async with over_https(fleet, channel_binding=binding) as pool:
            assert (await pool.invoke("hostname")).output == ["NODE01"]

"""A Windows domain's account lockout, seen by psfleet's client over real sockets.

Every host of a fleet shares the domain's accounts: a wrong password on any host counts
against the account, at the threshold every host refuses it (the right password too),
and a successful logon resets the counter. /stats shows the counters per account.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import psfleet
from psfleet import errors
from psfleet.client import connect
from psfleet.simfleet import SimFleet
from psfleet.targets.model import Target
from tests.support.fleets import fleet_starter

pytestmark = pytest.mark.anyio

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
SEALING_AUTHS = ["ntlm", "negotiate", "credssp"]
_subnets = itertools.count(0)

StartFleet = Callable[..., Any]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def start_fleet() -> AsyncIterator[StartFleet]:
    addresses = (f"127.8.{n}.1" for n in _subnets)
    async with fleet_starter(addresses, hosts=5, port=0) as start:
        yield start


async def logon(
    fleet: SimFleet,
    index: int,
    password: str,
    auth: str = "ntlm",
    user: str = USER,
    **settings: Any,
) -> bool:
    """Open a pool on one host and run a command: True, or False when the logon is refused."""
    host = fleet.hosts[index]
    try:
        async with connect(
            host.name,
            address=host.address,
            port=host.port,
            tls=fleet.config.tls,
            ca_file=fleet.ca_file,
            auth=auth,
            credential=(user, password),
            delegate_to=[host.name] if auth == "credssp" else None,
            **settings,
        ) as pool:
            result = await pool.invoke("$env:COMPUTERNAME")
    except errors.AuthError:
        return False
    assert result.output == [host.name.upper()]
    return True


def account(fleet: SimFleet, name: str = USER) -> dict[str, Any]:
    row: dict[str, Any] = fleet.stats()["accounts"][name]
    return row


def auth_failures(fleet: SimFleet) -> list[int]:
    return [h["auth_failures"] for h in fleet.stats()["hosts"].values()]


@pytest.mark.parametrize("auth", [*SEALING_AUTHS, "basic"])
async def test_wrong_passwords_on_different_hosts_lock_the_account_on_every_host(
    start_fleet: StartFleet, auth: str
) -> None:
    fleet = await start_fleet(lockout_threshold=3, tls=auth == "basic")
    for index in range(3):
        assert not await logon(fleet, index, "wrong", auth)
    assert account(fleet) == {
        "bad_password_count": 3,
        "locked": True,
        "failed_logons": 3,
        "lockouts": 1,
    }
    # A host never tried refuses the right password now, with the same bare 401.
    assert not await logon(fleet, 4, PASSWORD, auth)
    assert account(fleet)["failed_logons"] == 4
    assert auth_failures(fleet) == [1, 1, 1, 0, 1]
    assert fleet.stats()["shells_opened"] == 0


@pytest.mark.parametrize("auth", SEALING_AUTHS)
async def test_below_the_threshold_the_right_password_works_and_resets_the_counter(
    start_fleet: StartFleet, auth: str
) -> None:
    fleet = await start_fleet(lockout_threshold=3)
    assert not await logon(fleet, 0, "wrong", auth)
    assert not await logon(fleet, 1, "wrong", auth)
    assert account(fleet)["bad_password_count"] == 2
    assert await logon(fleet, 2, PASSWORD, auth)
    assert account(fleet)["bad_password_count"] == 0
    # Two more wrong ones stay below the threshold again: the counter did start over.
    assert not await logon(fleet, 3, "wrong", auth)
    assert not await logon(fleet, 4, "wrong", auth)
    assert await logon(fleet, 0, PASSWORD, auth)
    assert account(fleet) == {
        "bad_password_count": 0,
        "locked": False,
        "failed_logons": 4,
        "lockouts": 0,
    }


async def test_threshold_zero_never_locks(start_fleet: StartFleet) -> None:
    fleet = await start_fleet()  # the default: no lockout policy, as a default domain
    for index in range(5):
        assert not await logon(fleet, index, "wrong")
    assert account(fleet)["bad_password_count"] == 5
    assert await logon(fleet, 0, PASSWORD)
    assert account(fleet)["locked"] is False
    assert account(fleet)["lockouts"] == 0


async def test_the_lock_lifts_once_the_lockout_duration_has_passed(
    start_fleet: StartFleet,
) -> None:
    duration_s = 1.0
    fleet = await start_fleet(lockout_threshold=1, lockout_duration_s=duration_s)
    assert not await logon(fleet, 0, "wrong")
    assert account(fleet)["lockouts"] == 1
    await anyio.sleep(duration_s)  # the lock started before this sleep did
    assert await logon(fleet, 1, PASSWORD)
    assert account(fleet)["locked"] is False


async def test_unlocking_the_accounts_is_a_fresh_domain(start_fleet: StartFleet) -> None:
    fleet = await start_fleet(lockout_threshold=1)
    assert not await logon(fleet, 0, "wrong")
    assert not await logon(fleet, 1, PASSWORD)
    fleet.unlock_accounts()
    assert account(fleet) == {
        "bad_password_count": 0,
        "locked": False,
        "failed_logons": 0,
        "lockouts": 0,
    }
    assert await logon(fleet, 1, PASSWORD)


async def test_a_locked_account_leaves_the_other_accounts_alone(
    start_fleet: StartFleet, tmp_path: Path
) -> None:
    users = tmp_path / "users.txt"
    users.write_text(f"LAB\\admin:{PASSWORD}\nLAB\\ops:ops-password\n", encoding="utf-8")
    fleet = await start_fleet(lockout_threshold=2, users_file=users)
    assert not await logon(fleet, 0, "wrong", user="LAB\\ops")
    assert not await logon(fleet, 1, "wrong", user="ops@LAB")  # another form, the same account
    assert not await logon(fleet, 2, "ops-password", user="LAB\\ops")
    assert not await logon(fleet, 3, "wrong", user="LAB\\nobody")  # no account: counts nowhere
    assert await logon(fleet, 4, PASSWORD)
    accounts = fleet.stats()["accounts"]
    assert accounts["LAB\\ops"]["locked"] is True
    assert accounts["LAB\\ops"]["failed_logons"] == 3
    assert accounts["LAB\\admin"] == {
        "bad_password_count": 0,
        "locked": False,
        "failed_logons": 0,
        "lockouts": 0,
    }


async def test_a_missing_channel_binding_is_not_a_bad_password(start_fleet: StartFleet) -> None:
    # Extended Protection is the host's own check: no domain controller sees the logon.
    fleet = await start_fleet(lockout_threshold=1, tls=True, cbt_hardening="strict")
    assert not await logon(fleet, 0, PASSWORD, channel_binding=False)
    assert auth_failures(fleet)[0] == 1
    assert account(fleet)["failed_logons"] == 0
    assert await logon(fleet, 1, PASSWORD)


async def test_a_locked_account_cannot_log_on_with_its_certificate_either(
    start_fleet: StartFleet,
) -> None:
    fleet = await start_fleet(lockout_threshold=1, tls=True)
    cert, key = fleet.issue_client_certificate("admin")
    assert await logon(fleet, 0, PASSWORD, auth="certificate", client_cert=cert, client_key=key)
    assert not await logon(fleet, 1, "wrong")
    assert not await logon(fleet, 2, PASSWORD, auth="certificate", client_cert=cert, client_key=key)
    assert account(fleet)["failed_logons"] == 2


# CredSSP's logon failure is a 401 whose token is a TSRequest carrying the NTSTATUS,
# as Windows answers: the guard counts it too.
@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "credssp"])
async def test_a_fan_out_with_a_wrong_password_does_not_lock_the_account(
    start_fleet: StartFleet, auth: str
) -> None:
    # psfleet's lockout guard against a real lockout: it stops presenting a rejected
    # credential before the domain's threshold, so the account stays usable.
    fleet = await start_fleet(hosts=12, lockout_threshold=5)
    targets = [Target(h.name, h.address, h.port) for h in fleet.hosts]
    settings: dict[str, Any] = {"auth": auth, "delegate_to": [h.name for h in fleet.hosts]}
    result = await psfleet.arun(
        targets, "$env:COMPUTERNAME", credential=(USER, "wrong"), **settings
    )
    assert {h.status for h in result.hosts.values()} == {psfleet.HostStatus.AUTH_FAILED}
    assert account(fleet)["lockouts"] == 0
    assert 1 <= sum(n > 0 for n in auth_failures(fleet)) <= 3
    result = await psfleet.arun(
        targets, "$env:COMPUTERNAME", credential=(USER, PASSWORD), **settings
    )
    assert {h.status for h in result.hosts.values()} == {psfleet.HostStatus.OK}

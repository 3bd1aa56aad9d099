"""The domain's lockout policy on its own: counters, threshold, duration, names, workers."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from psfleet.simfleet.accounts import Account, Accounts
from psfleet.simfleet.lockout import AccountLockout, SharedLockout

SECOND_NS = 1_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now_ns = 10_000 * SECOND_NS

    def __call__(self) -> int:
        return self.now_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += int(seconds * SECOND_NS)


@pytest.fixture
def accounts() -> Accounts:
    return Accounts([Account("LAB", "admin", "right"), Account("LAB", "ops", "other")])


@pytest.fixture
def clock() -> Clock:
    return Clock()


def lockout(accounts: Accounts, clock: Clock, **policy: float) -> AccountLockout:
    return AccountLockout(accounts, clock_ns=clock, **policy)  # type: ignore[arg-type]


def admin(policy: AccountLockout) -> dict[str, object]:
    return policy.snapshot()["LAB\\admin"]


def test_the_threshold_locks_the_account_and_then_refuses_the_right_password(
    accounts: Accounts, clock: Clock
) -> None:
    policy = lockout(accounts, clock, threshold=3)
    policy.bad_password("LAB\\admin")
    policy.bad_password("LAB\\admin")
    assert admin(policy) == {
        "bad_password_count": 2,
        "locked": False,
        "failed_logons": 2,
        "lockouts": 0,
    }
    policy.bad_password("LAB\\admin")
    assert admin(policy)["locked"] is True
    assert policy.admit("LAB\\admin") is False
    assert admin(policy) == {
        "bad_password_count": 3,
        "locked": True,
        "failed_logons": 4,
        "lockouts": 1,
    }


def test_a_successful_logon_resets_the_counter(accounts: Accounts, clock: Clock) -> None:
    policy = lockout(accounts, clock, threshold=3)
    policy.bad_password("LAB\\admin")
    policy.bad_password("LAB\\admin")
    assert policy.admit("LAB\\admin") is True
    policy.bad_password("LAB\\admin")
    policy.bad_password("LAB\\admin")
    assert admin(policy) == {
        "bad_password_count": 2,
        "locked": False,
        "failed_logons": 4,
        "lockouts": 0,
    }


def test_threshold_zero_counts_but_never_locks(accounts: Accounts, clock: Clock) -> None:
    policy = lockout(accounts, clock, threshold=0)
    for _ in range(50):
        policy.bad_password("LAB\\admin")
    assert admin(policy)["bad_password_count"] == 50
    assert policy.admit("LAB\\admin") is True


def test_bad_passwords_while_locked_are_failed_logons_not_bad_passwords(
    accounts: Accounts, clock: Clock
) -> None:
    policy = lockout(accounts, clock, threshold=1)
    policy.bad_password("LAB\\admin")
    policy.bad_password("LAB\\admin")
    assert admin(policy) == {
        "bad_password_count": 1,
        "locked": True,
        "failed_logons": 2,
        "lockouts": 1,
    }


def test_the_lock_lifts_when_the_duration_has_passed(accounts: Accounts, clock: Clock) -> None:
    policy = lockout(accounts, clock, threshold=2, duration_s=60)
    policy.bad_password("LAB\\admin")
    policy.bad_password("LAB\\admin")
    clock.advance(59.9)
    assert policy.admit("LAB\\admin") is False
    clock.advance(0.1)
    assert admin(policy)["locked"] is False
    assert admin(policy)["bad_password_count"] == 0
    assert policy.admit("LAB\\admin") is True
    assert admin(policy)["lockouts"] == 1


def test_duration_zero_locks_until_reset(accounts: Accounts, clock: Clock) -> None:
    policy = lockout(accounts, clock, threshold=1, duration_s=0)
    policy.bad_password("LAB\\admin")
    clock.advance(365 * 86400)
    assert policy.admit("LAB\\admin") is False
    policy.reset()
    assert policy.admit("LAB\\admin") is True
    assert admin(policy) == {
        "bad_password_count": 0,
        "locked": False,
        "failed_logons": 0,
        "lockouts": 0,
    }


def test_bad_passwords_older_than_the_duration_are_forgotten(
    accounts: Accounts, clock: Clock
) -> None:
    policy = lockout(accounts, clock, threshold=2, duration_s=60)
    policy.bad_password("LAB\\admin")
    clock.advance(60)
    policy.bad_password("LAB\\admin")
    assert admin(policy)["bad_password_count"] == 1
    assert admin(policy)["locked"] is False


@pytest.mark.parametrize(
    "name", ["LAB\\admin", "lab\\ADMIN", "admin", "admin@LAB", "\\admin@LAB", "admin@LAB.TEST"]
)
def test_every_form_of_a_name_counts_against_the_same_account(
    accounts: Accounts, clock: Clock, name: str
) -> None:
    policy = lockout(accounts, clock, threshold=1)
    policy.bad_password(name)
    assert admin(policy)["locked"] is True
    assert policy.snapshot()["LAB\\ops"]["failed_logons"] == 0


@pytest.mark.parametrize("name", [None, "", "LAB\\nobody", "OTHER\\admin"])
def test_names_of_no_account_count_nowhere(
    accounts: Accounts, clock: Clock, name: str | None
) -> None:
    policy = lockout(accounts, clock, threshold=1)
    policy.bad_password(name)
    assert all(row["failed_logons"] == 0 for row in policy.snapshot().values())
    assert policy.admit("LAB\\admin") is True


def _hammer(accounts: Accounts, shared: SharedLockout, start: Any, times: int) -> None:
    policy = AccountLockout(accounts, threshold=0, shared=shared)
    start.wait()  # all at once, so that the processes really overlap
    for _ in range(times):
        policy.bad_password("LAB\\admin")


def test_worker_processes_share_one_counter_without_losing_updates(accounts: Accounts) -> None:
    context = multiprocessing.get_context("spawn")
    shared = SharedLockout.create(context, accounts)
    times, count = 100_000, 3
    start = context.Barrier(count)
    workers = [
        context.Process(target=_hammer, args=(accounts, shared, start, times)) for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    seen = AccountLockout(accounts, shared=shared).snapshot()["LAB\\admin"]
    assert seen["bad_password_count"] == seen["failed_logons"] == count * times

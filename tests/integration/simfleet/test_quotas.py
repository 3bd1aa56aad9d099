"""WinRM quotas as on a default Windows host, configurable, answered with Windows' faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from raw_wsman import Answer, RawPeer

from psfleet.simfleet.config import Quotas, SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.wsman import names

QUOTA_MAX_SHELLS = 2150859173
QUOTA_MAX_OPERATIONS = 2150859174
QUOTA_MAX_SHELLUSERS = 2150859179
ENVELOPE_TOO_LARGE = 2150858825
USERS = [f"user{i:02d}" for i in range(1, 12)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedFleet]:
    users = tmp_path_factory.mktemp("users") / "users.txt"
    users.write_text(
        "# the default admin plus eleven more\nLAB\\admin:psfleet-demo\n"
        + "".join(f"{name}:pw-{name}\n" for name in USERS)
    )
    config = SimConfig(
        hosts=4, base_address="127.1.32.1", port=0, allow_unencrypted=True, users_file=users
    )
    with fleet_in_thread(config) as running:
        yield running


def assert_quota_fault(answer: Answer, code: int) -> None:
    assert answer.status == 500
    fault = answer.fault
    assert fault is not None and fault.code == code and fault.subcode == "w:QuotaLimit"


def test_default_quotas_are_windows_defaults() -> None:
    assert Quotas() == Quotas(
        max_shells_per_user=30,
        max_concurrent_users=10,
        max_processes_per_shell=25,
        max_envelope_size=153600,
    )


def test_the_31st_shell_of_a_user_is_refused(fleet: ThreadedFleet) -> None:
    peer = RawPeer(fleet.hosts[0])
    shells = [peer.cmd_shell() for _ in range(30)]
    assert_quota_fault(peer.create_cmd(), QUOTA_MAX_SHELLS)
    # Another user still gets a shell: the quota is per user.
    other = RawPeer(fleet.hosts[0], user=USERS[0], password=f"pw-{USERS[0]}")
    other.delete(other.cmd_shell())
    peer.delete(shells.pop())
    shells.append(peer.cmd_shell())  # a closed shell frees its place
    for shell_id in shells:
        assert peer.delete(shell_id).status == 200
    assert fleet.stats(fleet.hosts[0].name)["shells_open"] == 0


def test_the_11th_concurrent_user_is_refused(fleet: ThreadedFleet) -> None:
    target = fleet.hosts[1]
    peers = [RawPeer(target, user=name, password=f"pw-{name}") for name in USERS]
    shells = [peer.cmd_shell() for peer in peers[:10]]
    assert_quota_fault(peers[10].create_cmd(), QUOTA_MAX_SHELLUSERS)
    assert peers[0].cmd_shell()  # a user already in may open more
    for peer, shell_id in zip(peers, shells, strict=False):
        peer.delete(shell_id)
    peers[10].delete(peers[10].cmd_shell())  # room again once the others left
    assert fleet.stats(target.name)["shells_open"] == 1


def test_the_26th_concurrent_command_of_a_cmd_shell_is_refused(fleet: ThreadedFleet) -> None:
    peer = RawPeer(fleet.hosts[2])
    shell_id = peer.cmd_shell()
    commands = [peer.start_cmd(shell_id, "hostname") for _ in range(25)]
    assert_quota_fault(peer.command(shell_id, "hostname"), QUOTA_MAX_OPERATIONS)
    # A command whose end the client received no longer counts.
    assert b"Done" in peer.receive(shell_id, commands[0]).body
    assert peer.start_cmd(shell_id, "hostname")
    assert peer.delete(shell_id).status == 200


def test_the_26th_concurrent_pipeline_of_a_pool_is_refused(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[3]).open_pool()
    for _ in range(25):
        assert pool.start("Start-Sleep -Seconds 30")[1].status == 200
    assert_quota_fault(pool.start("1")[1], QUOTA_MAX_OPERATIONS)
    assert pool.close().status == 200  # Delete stops the sleeping pipelines
    assert fleet.stats(fleet.hosts[3].name)["shells_open"] == 0


def test_an_envelope_over_max_envelope_size_is_a_fault(fleet: ThreadedFleet) -> None:
    peer = RawPeer(fleet.hosts[0])
    shell_id = peer.cmd_shell()
    answer = peer.command(shell_id, "echo", "x" * 160_000)
    assert answer.status == 500
    assert answer.fault_code == ENVELOPE_TOO_LARGE
    assert peer.command(shell_id, "echo", "x" * 100_000).status == 200
    peer.delete(shell_id)


def test_quotas_are_configurable(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("admin:a-pw\nops:o-pw\n")
    quotas = Quotas(
        max_shells_per_user=2,
        max_concurrent_users=1,
        max_processes_per_shell=1,
        max_envelope_size=20_000,
    )
    config = SimConfig(
        hosts=1,
        base_address="127.1.33.1",
        port=0,
        allow_unencrypted=True,
        quotas=quotas,
        users_file=users,
    )
    with fleet_in_thread(config) as fleet:
        admin = RawPeer(fleet.hosts[0], user="admin", password="a-pw")
        first, _ = admin.cmd_shell(), admin.cmd_shell()
        assert_quota_fault(admin.create_cmd(), QUOTA_MAX_SHELLS)
        ops = RawPeer(fleet.hosts[0], user="LAB\\ops", password="o-pw")
        assert_quota_fault(ops.create_cmd(), QUOTA_MAX_SHELLUSERS)
        admin.start_cmd(first, "hostname")
        assert_quota_fault(admin.command(first, "hostname"), QUOTA_MAX_OPERATIONS)
        too_large = admin.call(names.ACTION_CREATE, "<x>" + "y" * 20_000 + "</x>")
        assert too_large.fault_code == ENVELOPE_TOO_LARGE

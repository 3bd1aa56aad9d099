"""Each injected fault looks to a client as it would on a real network, and only on its host.

One fleet, one fault per host, named explicitly; node01 stays healthy and is checked
after every test. Client timeouts are small and explicit, so a fault never hangs a test.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests
from raw_wsman import Answer, RawPeer

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.wsman import shell

FAULTS = (
    "refuse:node02,blackhole:node03,delay:node04@300ms,slow:node05@600ms,http500:node06,"
    "http503:node07@2,authfail:node08,drop:node09"
)
IDLE_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(
        hosts=9,
        base_address="127.1.30.1",
        port=0,
        allow_unencrypted=True,
        faults=FAULTS,
        idle_timeout_s=IDLE_TIMEOUT_S,
    )
    with fleet_in_thread(config) as running:
        yield running


def host(fleet: ThreadedFleet, name: str) -> RawPeer:
    return RawPeer(fleet.fleet.host(name), timeout_s=5)


def shell_output(answer: Answer) -> bytes:
    result = shell.parse_receive_response(answer.envelope.body)
    assert result.state is not None and result.state.done
    return b"".join(c.data for c in result.chunks if c.name == "stdout")


def assert_healthy(fleet: ThreadedFleet) -> float:
    """node01 runs a command at once, whatever its neighbours do; returns the seconds it took."""
    peer = host(fleet, "node01")
    started = time.monotonic()
    shell_id = peer.cmd_shell()
    answer = peer.receive(shell_id, peer.start_cmd(shell_id, "hostname"))
    assert answer.status == 200 and b"NODE01" in shell_output(answer)
    assert peer.delete(shell_id).status == 200
    took = time.monotonic() - started
    assert took < 1.0
    assert fleet.stats("node01")["shells_open"] == 0
    return took


def test_refuse_nothing_listens(fleet: ThreadedFleet) -> None:
    target = fleet.fleet.host("node02")
    assert target.fault == "refuse"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((target.address, target.port), timeout=2).close()
    assert_healthy(fleet)


def test_blackhole_accepts_then_never_answers(fleet: ThreadedFleet) -> None:
    target = fleet.fleet.host("node03")
    with socket.create_connection((target.address, target.port), timeout=2):
        pass  # the TCP handshake completes
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"http://{target.address}:{target.port}/wsman", data=b"x", timeout=(2, 0.5))
    assert time.monotonic() - started >= 0.5
    assert_healthy(fleet)  # while node03 still holds the connection


@pytest.mark.parametrize(("name", "delay_s"), [("node04", 0.3), ("node05", 0.6)])
def test_delay_and_slow_add_their_latency_to_every_response(
    fleet: ThreadedFleet, name: str, delay_s: float
) -> None:
    peer = host(fleet, name)
    started = time.monotonic()
    shell_id = peer.cmd_shell()
    assert peer.delete(shell_id).status == 200
    took = time.monotonic() - started
    assert took >= 2 * delay_s  # two requests, each delayed
    assert assert_healthy(fleet) < delay_s


def test_http500_answers_every_request_without_a_fault_body(fleet: ThreadedFleet) -> None:
    answer = host(fleet, "node06").create_cmd()
    assert answer.status == 500 and answer.body == b""
    assert fleet.stats("node06")["shells_opened"] == 0
    assert_healthy(fleet)


def test_http503_for_the_first_requests_then_recovers(fleet: ThreadedFleet) -> None:
    peer = host(fleet, "node07")
    first = [peer.create_cmd().status for _ in range(2)]
    assert first == [503, 503]
    response = requests.post(peer.url, data=b"", timeout=2)
    assert response.status_code == 401  # the third request reaches WinRM
    shell_id = peer.cmd_shell()
    assert peer.delete(shell_id).status == 200
    assert_healthy(fleet)


def test_authfail_rejects_good_credentials_and_counts_them(fleet: ThreadedFleet) -> None:
    peer = host(fleet, "node08")
    before = fleet.stats("node08")["auth_failures"]
    assert [peer.create_cmd().status for _ in range(3)] == [401, 401, 401]
    assert fleet.stats("node08")["auth_failures"] == before + 3
    assert fleet.stats("node01")["auth_failures"] == 0
    assert_healthy(fleet)


def test_drop_resets_a_receive_with_output_and_delete_cleans_up(fleet: ThreadedFleet) -> None:
    peer = host(fleet, "node09")
    pool = peer.open_pool()  # the pool's own messages go through
    ps, answer = pool.start("1..3")
    assert answer.status == 200
    with pytest.raises(requests.ConnectionError):
        pool.receive(str(ps.pipeline_id).upper())
    assert fleet.stats("node09")["shells_open"] == 1
    assert pool.close().status == 200  # a new connection, the same user: Delete works
    assert fleet.stats("node09")["shells_open"] == 0
    assert_healthy(fleet)


def test_drop_leaves_a_shell_that_the_idle_timeout_closes(fleet: ThreadedFleet) -> None:
    peer = host(fleet, "node09")
    pool = peer.open_pool()
    ps, _ = pool.start("'lost'")
    with pytest.raises(requests.ConnectionError):
        pool.receive(str(ps.pipeline_id).upper())
    deadline = time.monotonic() + 3 * IDLE_TIMEOUT_S
    while fleet.stats("node09")["shells_open"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert fleet.stats("node09")["shells_open"] == 0
    assert pool.close().fault_code == 2150858843  # the shell is gone
    assert_healthy(fleet)


def test_flap_resets_connections_during_its_window_then_serves() -> None:
    config = SimConfig(
        hosts=2, base_address="127.1.31.1", port=0, allow_unencrypted=True, faults="flap:node02@1"
    )
    with fleet_in_thread(config) as fleet:
        started = time.monotonic()
        flapping = host(fleet, "node02")
        with pytest.raises(requests.ConnectionError):
            flapping.create_cmd()
        assert host(fleet, "node01").create_cmd().status == 200
        time.sleep(max(0.0, 1.1 - (time.monotonic() - started)))
        assert flapping.create_cmd().status == 200

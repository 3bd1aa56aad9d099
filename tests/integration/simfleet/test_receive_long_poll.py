"""Receive is a long poll bounded by OperationTimeout, and its answers fit MaxEnvelopeSize."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from raw_wsman import Answer, RawPeer, RawPool, psrp_message_types

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.wsman import shell

OPERATION_TIMEDOUT = 2150858793
SHELL_NOT_FOUND = 2150858843


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(
        hosts=2,
        base_address="127.1.36.1",
        port=0,
        allow_unencrypted=True,
        operation_timeout_cap_s=2.0,
    )
    with fleet_in_thread(config) as running:
        yield running


def timed(call: object) -> tuple[Answer, float]:
    assert callable(call)
    started = time.monotonic()
    answer = call()
    assert isinstance(answer, Answer)
    return answer, time.monotonic() - started


def test_a_receive_with_nothing_to_say_times_out_then_the_next_gets_the_output(
    fleet: ThreadedFleet,
) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool()
    ps, _ = pool.start("Start-Sleep -Seconds 2; 'done'")
    command_id = str(ps.pipeline_id).upper()
    first, waited = timed(lambda: pool.receive(command_id, operation_timeout_s=1))
    assert first.status == 500 and first.fault_code == OPERATION_TIMEDOUT
    assert 0.9 <= waited < 1.8
    run = pool.collect(ps, operation_timeout_s=2)
    assert run.output == ["done"]
    assert pool.close().status == 200


def test_the_server_caps_a_long_operation_timeout(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool()
    ps, _ = pool.start("Start-Sleep -Seconds 10")
    answer, waited = timed(
        lambda: pool.receive(str(ps.pipeline_id).upper(), operation_timeout_s=600)
    )
    assert answer.fault_code == OPERATION_TIMEDOUT
    assert waited < 3.0  # operation_timeout_cap_s=2
    assert pool.close().status == 200


def test_a_cmd_command_that_sleeps_is_seen_running_then_done(fleet: ThreadedFleet) -> None:
    peer = RawPeer(fleet.hosts[1])
    shell_id = peer.cmd_shell()
    command_id = peer.start_cmd(shell_id, "powershell", "-Command", "'a'; Start-Sleep 1; 'b'")
    running = shell.parse_receive_response(peer.receive(shell_id, command_id).envelope.body)
    assert running.state is not None and running.state.state.endswith("Running")
    assert b"".join(c.data for c in running.chunks) == b"a\r\n"
    timed_out = peer.receive(shell_id, command_id, operation_timeout_s=0.3)
    assert timed_out.fault_code == OPERATION_TIMEDOUT
    done = shell.parse_receive_response(peer.receive(shell_id, command_id).envelope.body)
    assert done.state is not None and done.state.done and done.state.exit_code == 0
    assert b"".join(c.data for c in done.chunks if c.name == "stdout") == b"b\r\n"
    assert peer.delete(shell_id).status == 200


def test_deleting_a_shell_ends_its_pending_receive(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[1]).open_pool()
    ps, _ = pool.start("Start-Sleep -Seconds 10")
    answers: list[Answer] = []
    waiter = threading.Thread(
        target=lambda: answers.append(pool.receive(str(ps.pipeline_id).upper()))
    )
    waiter.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert RawPeer(fleet.hosts[1]).delete(pool.shell_id).status == 200
    waiter.join(5)
    assert time.monotonic() - started < 1.0
    assert answers[0].fault_code == SHELL_NOT_FOUND


def drain(pool: RawPool, script: str) -> list[Answer]:
    """Every Receive response of one pipeline, read as raw fragments (no object decoding)."""
    ps, _ = pool.start(script)
    answers: list[Answer] = []
    for _ in range(500):
        answers.append(pool.receive(str(ps.pipeline_id).upper()))
        result = shell.parse_receive_response(answers[-1].envelope.body)
        if result.state is not None and result.state.done:
            return answers
    raise AssertionError("the pipeline did not end")


@pytest.mark.parametrize("max_envelope", [153600, 51200])
def test_large_output_is_split_across_receives_under_max_envelope_size(
    fleet: ThreadedFleet, max_envelope: int
) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool(max_envelope=max_envelope)
    answers = drain(pool, "1..20000")
    assert len(answers) > 3
    assert all(len(a.body) <= max_envelope for a in answers)
    types = [t for a in answers for t in psrp_message_types(a.envelope)]
    assert types == ["PipelineOutput"] * 20000 + ["PipelineState"]
    assert pool.close().status == 200


def test_one_large_object_is_fragmented_and_reassembled(fleet: ThreadedFleet) -> None:
    pool = RawPeer(fleet.hosts[0]).open_pool(max_envelope=51200)
    run = pool.run("'y' * 400000")
    assert run.output == ["y" * 400000]
    assert len(run.answers) >= 400000 // 51200
    assert all(len(a.body) <= 51200 for a in run.answers)
    assert pool.close().status == 200


def test_large_cmd_output_is_split_across_receives_under_max_envelope_size(
    fleet: ThreadedFleet,
) -> None:
    peer = RawPeer(fleet.hosts[1])
    shell_id = peer.cmd_shell()
    command_id = peer.start_cmd(shell_id, "powershell", "-Command", "1..30000")
    stdout = b""
    answers: list[Answer] = []
    while len(answers) < 100:
        answers.append(peer.receive(shell_id, command_id, max_envelope_size=51200))
        result = shell.parse_receive_response(answers[-1].envelope.body)
        stdout += b"".join(c.data for c in result.chunks if c.name == "stdout")
        if result.state is not None and result.state.done:
            break
    assert len(answers) > 3 and all(len(a.body) <= 51200 for a in answers)
    assert stdout.split() == [str(i).encode() for i in range(1, 30001)]
    assert peer.delete(shell_id).status == 200

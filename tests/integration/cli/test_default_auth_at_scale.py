"""The default auth (negotiate) as a new user runs it, on a machine with no KDC for the realm.

`make demo` installs MIT Kerberos, so /etc/krb5.conf names a default realm and no KDC
for LAB can be found. Negotiate must find that out once per run and use NTLM, at the
speed of `--auth ntlm`, with every host inside its timeout.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

TIMEOUT_S = 15
WALL_RATIO = 1.2  # the goal: negotiate without a KDC within 1.2x --auth ntlm
MAX_ROUNDS = 8


def _lab(tmp: Path, address: str, *args: str) -> Iterator[Path]:
    inventory = tmp / "lab.yml"
    port = free_port(address)
    with sim_process(
        "--base-address", address, "--port", str(port), "--inventory", str(inventory), *args
    ):  # fmt: skip
        yield inventory


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from _lab(tmp_path_factory.mktemp("healthy"), "127.8.1.1", "--hosts", "100")


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from _lab(
        tmp_path_factory.mktemp("faulty"),
        "127.8.2.1",
        "--hosts", "200", "--faults", "refuse:5%,blackhole:3%", "--seed", "4",
    )  # fmt: skip


def run(inventory: Path, *extra: str) -> list[dict[str, Any]]:
    done = run_psfleet(
        "run", "--inventory", str(inventory), "all", "-u", "LAB\\admin",
        "-c", "$env:COMPUTERNAME", "--json", "--timeout", str(TIMEOUT_S), *extra,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    last = events[-1]
    assert last["event"] == "summary"
    return last


def durations(events: list[dict[str, Any]]) -> list[float]:
    return [e["duration_s"] for e in events if e["event"] == "host_done"]


def fastest_walls(inventory: Path) -> tuple[float, float, list[dict[str, Any]]]:
    """Negotiate and NTLM alternated in one test; the fastest of each (the least disturbed).

    A 100-host run takes about half a second, and on a busy machine one run in three can
    be 1.5x slower than the others whatever the auth. The fastest of each is the best
    estimate of its undisturbed wall, and more rounds make it better: at least three, and
    up to MAX_ROUNDS while the two still differ by more than the goal. A real regression
    (a blocking KDC call per host: seconds) stays above it however many rounds run.
    """
    negotiate: list[float] = []
    ntlm: list[float] = []
    events: list[dict[str, Any]] = []
    for round_ in range(MAX_ROUNDS):
        events = run(inventory)
        negotiate.append(summary(events)["wall_s"])
        ntlm.append(summary(run(inventory, "--auth", "ntlm"))["wall_s"])
        if round_ >= 2 and min(negotiate) <= WALL_RATIO * min(ntlm):
            break
    return min(negotiate), min(ntlm), events


def test_100_healthy_hosts_with_the_default_auth_run_at_ntlm_speed(healthy: Path) -> None:
    negotiate, ntlm, events = fastest_walls(healthy)
    assert summary(events)["counts"]["ok"] == 100
    assert max(durations(events)) <= TIMEOUT_S + 1
    assert negotiate <= WALL_RATIO * ntlm, (negotiate, ntlm)


def test_200_hosts_with_faults_with_the_default_auth_end_as_with_ntlm(faulty: Path) -> None:
    events = run(faulty)
    with_ntlm = run(faulty, "--auth", "ntlm")
    statuses = {e["host"]: e["status"] for e in events if e["event"] == "host_done"}
    ntlm_statuses = {e["host"]: e["status"] for e in with_ntlm if e["event"] == "host_done"}
    assert statuses == ntlm_statuses
    counts = Counter(statuses.values())
    # 5 % refuse (unreachable), 3 % blackhole (timeout), the rest ok; none lost.
    assert counts["ok"] + counts["unreachable"] + counts["timeout"] == 200
    assert counts["ok"] >= 170 and counts["timeout"] <= 12
    assert max(durations(events)) <= TIMEOUT_S + 1
    assert summary(events)["wall_s"] <= WALL_RATIO * summary(with_ntlm)["wall_s"]


def test_the_fallback_to_ntlm_is_logged_once_per_run_with_its_reason(
    healthy: Path, tmp_path: Path
) -> None:
    log = tmp_path / "run.log.jsonl"
    run(healthy, "--log-json", str(log))
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    fallback = [e for e in entries if "negotiate uses NTLM" in e["event"]]
    assert len(fallback) == 1
    assert fallback[0]["principal"] == "admin@LAB" and "LAB" in fallback[0]["reason"]

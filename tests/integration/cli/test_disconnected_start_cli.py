"""`psfleet run --disconnected` while it starts: pools retried as a run retries them,
several commands, and Ctrl-C (started commands stay disconnected and are received later,
the other pools are closed, exit 130). Against `psfleet sim` subprocesses on 127.30.4.x
and 127.30.5.x."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.cli.test_disconnected_cli import cli, env, start_fleet

AUTH = ["-u", "LAB\\admin", "--auth", "ntlm"]


def test_a_pool_refused_at_first_is_retried_and_several_commands_run_in_order(
    tmp_path: Path,
) -> None:
    process, lab = start_fleet(tmp_path, "127.30.4.1", 3, "--faults", "http503:node02@2")
    with process:
        started = cli(tmp_path, "run", "all", "--inventory", str(lab.inventory), *AUTH,
                      "--retries", "3", "--disconnected", "--arg", "7",
                      "-c", "$v = 'x' + $args[0]", "-c", "\"$v $env:COMPUTERNAME\"")  # fmt: skip
        assert started.returncode == 0, started.stdout + started.stderr
        assert "Started on 3 of 3 hosts" in started.stdout
        shown = json.loads(cli(tmp_path, "show", "last", "--json").stdout)
        # The start's attempts: node02 answered 503 twice. Its result comes with its receive.
        assert {h["host"]: (h["attempts"], h["status"]) for h in shown["hosts"]} == {
            "node01": (1, "disconnected"),
            "node02": (3, "disconnected"),
            "node03": (1, "disconnected"),
        }
        assert shown["run"]["commands"] == ["$v = 'x' + $args[0]", '"$v $env:COMPUTERNAME"']

        done = cli(tmp_path, "receive", "last", *AUTH, "--json")
        assert done.returncode == 0, done.stderr
        records = [json.loads(line) for line in done.stdout.splitlines()]
        outputs = {e["host"]: e["data"] for e in records if e["event"] == "record"}
        assert outputs == {f"node0{n}": f"x7 NODE0{n}" for n in (1, 2, 3)}
        lab.wait_for("shells_open", lambda n: n == 0)


def test_without_retries_a_refused_pool_fails_its_host(tmp_path: Path) -> None:
    process, lab = start_fleet(tmp_path, "127.30.4.11", 2, "--faults", "http503:node02@2")
    with process:
        started = cli(tmp_path, "run", "all", "--inventory", str(lab.inventory), *AUTH,
                      "--retries", "0", "--disconnected", "-c", "hostname")  # fmt: skip
        assert started.returncode == 1
        assert "Started on 1 of 2 hosts" in started.stdout
        assert "[node02] unreachable" in started.stdout
        assert cli(tmp_path, "receive", "last", *AUTH).returncode == 0
        lab.wait_for("shells_open", lambda n: n == 0)


def test_ctrl_c_leaves_started_commands_disconnected_and_closes_the_rest(
    tmp_path: Path,
) -> None:
    process, lab = start_fleet(tmp_path, "127.30.5.1", 40, "--faults", "delay:100%@150ms")
    with process:
        client = subprocess.Popen(
            [sys.executable, "-m", "psfleet", "run", "all", "--inventory", str(lab.inventory),
             *AUTH, "--retries", "0", "--throttle", "2", "--disconnected", "-c", "'done'"],
            env=env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lab.wait_for("shells_opened", lambda n: n >= 4)
        client.send_signal(signal.SIGINT)
        out, err = client.communicate(timeout=120)
        assert client.returncode == 130, out + err
        assert "Interrupted: started on" in out

        [run] = json.loads(cli(tmp_path, "runs", "--json").stdout)
        left = run["counts"]["disconnected"]
        assert run["state"] == "disconnected"
        assert run["counts"] == {"disconnected": left, "cancelled": 40 - left}
        assert 2 <= left < 40
        assert lab.stats()["shells_open"] == left  # the others were closed, not left behind

        done = cli(tmp_path, "receive", "last", *AUTH, "--json")
        assert done.returncode == 0, done.stderr
        events = [json.loads(line) for line in done.stdout.splitlines()]
        statuses = [e["status"] for e in events if e["event"] == "host_done"]
        assert statuses == ["ok"] * left
        lab.wait_for("shells_open", lambda n: n == 0)


def test_the_hosts_timeout_bounds_the_start_and_its_pool_is_deleted_after(
    tmp_path: Path,
) -> None:
    """With the default auth (negotiate, no KDC for LAB here), as a new user runs it.

    node02 never answers; node03 answers each request 0.7 s late, so its Create is still
    unanswered at the 1 s deadline: both end `timeout` on time, and node03's shell,
    created after all, is deleted by the cleanup that follows. The start and the receive
    each find out once that Kerberos cannot be used, and the receive reattaches as the
    run's user without -u.
    """
    process, lab = start_fleet(
        tmp_path, "127.30.4.21", 3, "--faults", "blackhole:node02,slow:node03@700"
    )
    with process:
        started = cli(tmp_path, "run", "all", "--inventory", str(lab.inventory),
                      "-u", "LAB\\admin", "--retries", "0", "--timeout", "1", "--disconnected",
                      "--json", "--log-json", str(tmp_path / "start.jsonl"),
                      "-c", "Start-Sleep 2; 'late'")  # fmt: skip
        assert started.returncode == 1, started.stdout + started.stderr
        events = [json.loads(line) for line in started.stdout.splitlines()]
        done = {e["host"]: e for e in events if e["event"] == "host_done"}
        assert sorted(done) == ["node02", "node03"]  # node01 started: no final status yet
        for host in done.values():
            assert host["status"] == "timeout", host
            assert host["duration_s"] <= 1 + 1, host
        end = events[-1]
        assert end["event"] == "disconnected" and (end["started"], end["hosts"]) == (1, 3)

        received = cli(tmp_path, "receive", end["run_id"], "--json",
                       "--log-json", str(tmp_path / "receive.jsonl"))  # fmt: skip
        assert received.returncode == 0, received.stdout + received.stderr
        records = [json.loads(line) for line in received.stdout.splitlines()]
        assert [(e["host"], e["data"]) for e in records if e["event"] == "record"] == [
            ("node01", "late")
        ]
        for log in ("start.jsonl", "receive.jsonl"):
            lines = (tmp_path / log).read_text().splitlines()
            assert sum("negotiate uses NTLM" in line for line in lines) == 1, log
        lab.wait_for("shells_open", lambda n: n == 0)

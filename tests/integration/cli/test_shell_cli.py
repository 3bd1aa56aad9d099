"""psfleet shell in a real terminal: prompt, streams, Ctrl-C stops only the pipeline, exit."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pexpect
import pytest

from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

PROMPT = r"\[node03\]: PS> "
ONE_SLOT_ADDRESS = "127.5.2.1"
ONE_SLOT_PROMPT = r"\[node01\]: PS> "
CTRL_C_ROUNDS = 5
# The pipelines sleep 30 s: a Ctrl-C that was missed cannot bring the prompt back this soon.
STOPPED_WITHIN_S = 10


def _spawn_shell(host: str, inventory: Path, password: str) -> pexpect.spawn:
    args = ["shell", host, "--inventory", str(inventory), "-u", "LAB\\admin", "--auth", "ntlm"]
    return pexpect.spawn(
        sys.executable,
        ["-m", "psfleet", *args],
        env={**os.environ, "PSFLEET_PASSWORD": password, "TERM": "dumb"},
        encoding="utf-8",
        timeout=60,
    )


@dataclass(frozen=True)
class OneSlotHost:
    inventory: Path
    port: int

    def shells_open(self) -> int:
        url = f"http://{ONE_SLOT_ADDRESS}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(json.load(response)["hosts"]["node01"]["shells_open"])


@pytest.fixture(scope="module")
def one_slot_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneSlotHost]:
    """One host that runs one pipeline per shell at a time (MaxProcessesPerShell 1).

    A pipeline left running on it after Ctrl-C makes the next line fail with a quota fault,
    so a stop that only the client believes in shows.
    """
    inventory = tmp_path_factory.mktemp("one-slot") / "inventory.yml"
    port = free_port(ONE_SLOT_ADDRESS)
    with sim_process(
        "--hosts", "1", "--base-address", ONE_SLOT_ADDRESS, "--port", str(port),
        "--inventory", str(inventory), "--max-processes-per-shell", "1",
    ):  # fmt: skip
        yield OneSlotHost(inventory, port)


def test_shell_runs_lines_stops_a_pipeline_on_ctrl_c_and_closes_on_exit(lab: Any, cli: Any) -> None:
    before = lab.stats()["hosts"]["node03"]
    shell = _spawn_shell("node03", lab.inventory, lab.password)
    try:
        shell.expect(PROMPT)
        shell.sendline("$env:COMPUTERNAME")
        shell.expect("NODE03")
        shell.expect(PROMPT)
        shell.sendline("Write-Warning 'mind the gap'")
        shell.expect("WARNING: mind the gap")
        shell.expect(PROMPT)
        shell.sendline("Start-Sleep -Seconds 60; 'too late'")
        shell.expect(r"\r\n")  # the line was submitted; the pipeline runs
        deadline = time.monotonic() + 30
        while lab.stats()["hosts"]["node03"]["executions"] < before["executions"] + 3:
            assert time.monotonic() < deadline, "the sleeping pipeline never started"
            time.sleep(0.05)
        shell.sendintr()
        shell.expect("pipeline stopped")
        shell.expect(PROMPT)  # the session survives Ctrl-C
        shell.sendline("'still here'")
        shell.expect("still here")
        shell.expect(PROMPT)
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
    after = lab.stats()["hosts"]["node03"]
    assert after["shells_open"] == 0
    assert after["shells_opened"] == before["shells_opened"] + 1  # one pool for the whole session
    assert "too late" not in (shell.before or "")


def test_ctrl_c_at_once_after_enter_stops_the_pipeline_and_the_session_goes_on(
    one_slot_host: OneSlotHost,
) -> None:
    """Ctrl-C at whatever point the shell is in handing the line over: the line never runs
    past it. Each round waits only for the terminal to echo Enter (the terminal discards
    input it has not delivered yet when Ctrl-C comes, so the line would never reach the
    shell), then presses Ctrl-C with no pause."""
    shell = _spawn_shell("node01", one_slot_host.inventory, DEFAULT_PASSWORD)
    output = ""
    try:
        shell.expect(ONE_SLOT_PROMPT)
        for round_ in range(CTRL_C_ROUNDS):
            shell.sendline(f"Start-Sleep -Seconds 30; 'too late {round_}'")
            shell.expect(r"\r\n")  # Enter was read: the line is the shell's now
            shell.sendintr()
            pressed = time.monotonic()
            shell.expect(ONE_SLOT_PROMPT, timeout=STOPPED_WITHIN_S)
            assert time.monotonic() - pressed < STOPPED_WITHIN_S
            output += shell.before
            # The host runs one pipeline at a time: this line runs only if that one stopped.
            shell.sendline(f"'still here {round_}'")
            shell.expect(rf"\[node01\] still here {round_}\r\n", timeout=STOPPED_WITHIN_S)
            shell.expect(ONE_SLOT_PROMPT)
            output += shell.before
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
        output += shell.before
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0, output
    assert "too late" not in output
    assert "error" not in output.lower()
    assert one_slot_host.shells_open() == 0

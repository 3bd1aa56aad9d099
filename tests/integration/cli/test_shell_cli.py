"""psfleet shell in a real terminal: prompt, streams, Ctrl-C stops only the pipeline, exit."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import pexpect

PROMPT = r"\[node03\]: PS> "


def test_shell_runs_lines_stops_a_pipeline_on_ctrl_c_and_closes_on_exit(lab: Any, cli: Any) -> None:
    before = lab.stats()["hosts"]["node03"]
    shell = pexpect.spawn(
        sys.executable,
        [
            "-m",
            "psfleet",
            "shell",
            "node03",
            "--inventory",
            str(lab.inventory),
            "-u",
            "LAB\\admin",
            "--auth",
            "ntlm",
        ],
        env={**os.environ, "PSFLEET_PASSWORD": lab.password, "TERM": "dumb"},
        encoding="utf-8",
        timeout=60,
    )
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

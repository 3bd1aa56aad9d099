"""`psfleet receive` stopped by Ctrl-C (a real SIGINT to the process) leaves the hosts it
had not finished receivable, and a receive that leaves a host asks the host to keep it for
the IdleTimeOut the run recorded. Against a `psfleet sim` subprocess on 127.36.2.x."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from pypsrp.wsman import NAMESPACES, WSMan

from psfleet.store import db_path, find_run, open_store
from tests.integration.cli.test_disconnected_cli import Fleet, start_fleet
from tests.integration.cli.test_receive_cli import (
    AUTH,
    HOSTS,
    cli,
    done_and_records,
    env,
    events,
)

# "a" at once, "b" later: Ctrl-C after every host's "a" falls while the hosts sleep.
TWO_PARTS = '"a $env:COMPUTERNAME"; Start-Sleep 5; "b $env:COMPUTERNAME"'
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    process, lab = start_fleet(tmp_path_factory.mktemp("interrupt"), "127.36.2.1", 3)
    with process:
        yield lab


def start(fleet: Fleet, state: Path, *extra: str) -> str:
    started = cli(state, "run", "all", "--inventory", str(fleet.inventory), *AUTH,
                  "--disconnected", *extra, "-c", TWO_PARTS)  # fmt: skip
    assert started.returncode == 0, started.stderr
    [run] = json.loads(cli(state, "runs", "--json").stdout)
    return str(run["id"])


def interrupted_receive(state: Path, run: str) -> tuple[int, str, str]:
    """`psfleet receive RUN --json`, sent SIGINT once every host's first record came."""
    process = subprocess.Popen(
        [sys.executable, "-m", "psfleet", "receive", run, *AUTH, "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**env(state), "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    seen: set[str] = set()
    for line in process.stdout:  # each record is written as it arrives
        lines.append(line)
        seen |= {e["host"] for e in events(line) if e["event"] == "record"}
        if seen == set(HOSTS):
            break
    process.send_signal(signal.SIGINT)
    rest, err = process.communicate(timeout=60)
    return process.returncode, "".join(lines) + rest, err


def test_ctrl_c_leaves_unfinished_hosts_receivable_and_a_second_receive_gets_the_rest(
    fleet: Fleet, tmp_path: Path
) -> None:
    run = start(fleet, tmp_path)
    code, out, err = interrupted_receive(tmp_path, run)
    assert code == 130, err
    assert f"psfleet receive {run}" in err
    done, records = done_and_records(out)
    assert done == {}  # no host finished: none is told an outcome it did not have
    assert records == {h: [f"a {h.upper()}"] for h in HOSTS}
    [stored] = json.loads(cli(tmp_path, "runs", "--json").stdout)
    assert stored["state"] == "disconnected" and stored["counts"] == {"disconnected": 3}
    assert fleet.stats()["shells_open"] == 3  # disconnected again, not deleted

    rest = cli(tmp_path, "receive", run, *AUTH, "--json")
    assert rest.returncode == 0, rest.stderr
    done, records = done_and_records(rest.stdout)
    assert {h: d["status"] for h, d in done.items()} == dict.fromkeys(HOSTS, "ok")
    assert records == {h: [f"b {h.upper()}"] for h in HOSTS}
    shown = json.loads(cli(tmp_path, "show", run, "--json").stdout)
    assert {h["host"]: [r["data"] for r in h["records"]] for h in shown["hosts"]} == {
        h: [f"a {h.upper()}", f"b {h.upper()}"] for h in HOSTS
    }  # whole, and nothing stored twice
    fleet.wait_for("shells_open", lambda n: n == 0)


def idle_timeouts(fleet: Fleet) -> dict[str, str]:
    """Each shell's State and IdleTimeOut as the host lists them (Enumerate, as
    Get-PSSession), read by another client (pypsrp)."""
    with WSMan(fleet.address, port=fleet.port, username="LAB\\admin",
               password="psfleet-demo", ssl=False, auth="ntlm") as wsman:  # fmt: skip
        listed = wsman.enumerate(SHELL_URI, _enumerate_body())
    return {
        shell.findtext("rsp:ShellId", namespaces=NAMESPACES) or "": (
            f"{shell.findtext('rsp:State', namespaces=NAMESPACES)} "
            f"{shell.findtext('rsp:IdleTimeOut', namespaces=NAMESPACES)}"
        )
        for shell in listed.iterfind("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES)
    }


def _enumerate_body() -> ET.Element:
    body = ET.Element(f"{{{NAMESPACES['wsen']}}}Enumerate")
    ET.SubElement(body, f"{{{NAMESPACES['wsman']}}}OptimizeEnumeration")
    ET.SubElement(body, f"{{{NAMESPACES['wsman']}}}MaxElements").text = "32000"
    return body


def test_a_receive_cut_off_disconnects_again_with_the_runs_idle_timeout(
    fleet: Fleet, tmp_path: Path
) -> None:
    run = start(fleet, tmp_path, "--idle-timeout", "90")
    with closing(open_store(db_path(tmp_path), lambda message: None)) as conn:
        assert find_run(conn, run).idle_timeout_s == 90  # recorded when the run started
    cut = cli(tmp_path, "receive", run, *AUTH, "--json", "--timeout", "1")  # no --idle-timeout
    assert cut.returncode == 1, cut.stderr
    pool_ids = {
        h["pool_id"].upper()
        for h in json.loads(cli(tmp_path, "show", run, "--json").stdout)["hosts"]
    }
    listed = idle_timeouts(fleet)  # node01's shells
    assert [listed[p] for p in pool_ids if p in listed] == ["Disconnected PT90.000S"]
    rest = cli(tmp_path, "receive", run, *AUTH, "--json")
    assert rest.returncode == 0, rest.stderr
    fleet.wait_for("shells_open", lambda n: n == 0)

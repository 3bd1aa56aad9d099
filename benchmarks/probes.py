"""The parts of the harness that are not tool-vs-tool cases: `psfleet bench` and the profile.

`psfleet bench` on a simulated fleet gives the limit model its inputs (RTT as the
client sees it, connect and pool-open latency, round trips per host and per
command, client CPU per host); the simulator's request counter checks the
round trips it infers. The cold-path profile says where the CPU goes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks.cases import SMALL_SCRIPT, Fleet
from benchmarks.placement import Placement, pinned
from benchmarks.protocol import CREDENTIAL, ChildSpec, parse
from benchmarks.simulator import BASE_ADDRESS, Simulator
from benchmarks.supervise import ROOT

PROBE_COMMANDS = 3
PROBE_THROTTLE = 256
_TIMEOUT_S = 900.0


def _spec(fleet: Fleet, sim: Simulator, placement: Placement) -> ChildSpec:
    return ChildSpec(
        kind="cold",
        tool="psfleet",
        threads=None,
        hosts=fleet.hosts,
        base_address=BASE_ADDRESS,
        port=sim.port,
        tls=fleet.tls,
        ca_file=sim.ca_file,
        auth="ntlm",
        user=CREDENTIAL[0],
        script=SMALL_SCRIPT,
        expected_objects=1,
        time_limit_s=_TIMEOUT_S,
        throttle=1,
        cpus=placement.client,
    )


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run to the end, or give up after the timeout with what it said (a result, not a crash)."""
    try:
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            cwd=ROOT,
            env=os.environ | (env or {}),
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return subprocess.CompletedProcess(command, -9, "", f"timed out: {stderr}")


def run_probe(fleet: Fleet, sim: Simulator, placement: Placement) -> dict[str, Any]:
    """`psfleet bench --json` over the whole fleet, as a user would run it."""
    spec = _spec(fleet, sim, placement)
    hosts = {
        name: {"ansible_host": address, "ansible_port": sim.port}
        for name, address in spec.targets()
    }
    with tempfile.TemporaryDirectory(prefix="psfleet-bench-") as scratch:
        inventory = Path(scratch) / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
        command = [
            str(Path(sys.executable).with_name("psfleet")),
            "bench",
            "all",
            "--inventory",
            str(inventory),
            "-u",
            CREDENTIAL[0],
            "--auth",
            "ntlm",
            "--commands",
            str(PROBE_COMMANDS),
            "--throttle",
            str(PROBE_THROTTLE),
            "--json",
        ]
        before = sim.counters()
        done = _run(pinned(command, placement.client), {"PSFLEET_PASSWORD": CREDENTIAL[1]})
        requests = sim.counters().minus(before).requests
    if not done.stdout.strip():
        return {"fleet": dataclasses.asdict(fleet), "error": done.stderr[-1500:]}
    figures = json.loads(done.stdout)
    figures.pop("per_host")
    return {
        "fleet": dataclasses.asdict(fleet),
        "command": "psfleet " + " ".join(command[1:]).replace(scratch, "<tmp>"),
        "figures": figures,
        "server_requests_per_host": round(requests / fleet.hosts, 2),
    }


def run_cold_profile(sim: Simulator, placement: Placement, hosts: int) -> dict[str, Any]:
    spec = _spec(sim.fleet, sim, placement)
    done = _run([sys.executable, "-m", "benchmarks.cold_profile", spec.to_json(), str(hosts)])
    for line in reversed(done.stdout.splitlines()):
        message = parse(line)
        if message is not None:
            message.pop("event")
            return message
    return {"error": done.stderr[-1500:]}

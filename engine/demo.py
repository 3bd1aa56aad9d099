"""`make demo`: a simulated 64-node failover cluster, a fan-out over it, and the double hop.

Runs the real commands a user would type, shows them, and checks each one did what
it should. The simulator runs in its own process, as it would for a real test lab.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from psfleet.simfleet.accounts import DEFAULT_PASSWORD

_READY_TIMEOUT_S = 120
_NODES = 64
_CLUSTER = "CLUSTER01"
_BASE = "127.1.100.1"


def _title(text: str) -> None:
    print(f"\n\033[1;36m== {text}\033[0m", flush=True)


def _show_and_run(args: list[str], env: dict[str, str]) -> int:
    print("\033[1m$ " + " ".join(shlex.quote(a) for a in args) + "\033[0m", flush=True)
    return subprocess.run(args, env=env, check=False).returncode


def _start_simulator(inventory: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "psfleet",
        "sim",
        "--hosts",
        str(_NODES),
        "--cluster",
        _CLUSTER,
        "--base-address",
        _BASE,
        "--inventory",
        str(inventory),
    ]
    print(
        "\033[1m$ psfleet sim --hosts 64 --cluster CLUSTER01 "
        f"--base-address {_BASE} --inventory {inventory} &\033[0m",
        flush=True,
    )
    sim = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert sim.stdout is not None
    line = sim.stdout.readline()
    if not line.startswith("ready"):
        sim.kill()
        raise SystemExit(f"the simulator did not start: {line!r}")
    print(line.strip(), flush=True)
    return sim


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="psfleet-demo-"))
    inventory = workdir / "inventory.yml"
    env = {**os.environ, "PSFLEET_PASSWORD": DEFAULT_PASSWORD}
    psfleet = [sys.executable, "-m", "psfleet"]
    common = ["--inventory", str(inventory), "-u", "LAB\\admin"]
    _title(f"Start a simulated {_NODES}-node failover cluster on loopback addresses")
    sim = _start_simulator(inventory)
    failures = []
    try:
        _title("Run two commands on every node of the cluster (one pool per node, 32 at a time)")
        code = _show_and_run(
            [
                *psfleet,
                "run",
                "--cluster",
                _CLUSTER,
                *common,
                "--auth",
                "ntlm",
                "-c",
                "Get-Service WinRM | Select-Object Name, Status",
                "-c",
                "$PSVersionTable.PSVersion.ToString()",
            ],
            env,
        )
        if code != 0:
            failures.append("the fan-out over the cluster")
        _title("Test-Cluster from an NTLM session: the double hop (Access is denied)")
        code = _show_and_run(
            [*psfleet, "run", "node01", *common, "--auth", "ntlm", "-c", "Test-Cluster"], env
        )
        if code != 1:
            failures.append("the double hop diagnosis")
        _title("The same with CredSSP, delegating only to the cluster's nodes")
        code = _show_and_run(
            [
                *psfleet,
                "run",
                "node01",
                *common,
                "--auth",
                "credssp",
                "--delegate-to",
                "node*",
                "-c",
                "Test-Cluster | Select-Object -ExpandProperty Name",
            ],
            env,
        )
        if code != 0:
            failures.append("Test-Cluster over CredSSP")
    finally:
        _title("Stop the simulator")
        sim.send_signal(signal.SIGTERM)
        sim.wait(timeout=30)
    if failures:
        print(f"\ndemo: unexpected results in: {', '.join(failures)}", file=sys.stderr)
        return 1
    print("\ndemo: every step behaved as expected.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`make demo`: a simulated 64-node failover cluster, a fan-out over it, and the double hop.

Runs the real commands a user would type, shows them, and checks each one did what
it should. The simulator runs in its own process, as it would for a real test lab.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.testing.sim_process import sim_process

_NODES = 64
_CLUSTER = "CLUSTER01"
_BASE = "127.1.100.1"


def _title(text: str) -> None:
    print(f"\n\033[1;36m== {text}\033[0m", flush=True)


def _show(args: list[str], *, background: bool = False) -> None:
    line = " ".join(shlex.quote(a) for a in args) + (" &" if background else "")
    print(f"\033[1m$ {line}\033[0m", flush=True)


def _steps(inventory: Path) -> list[tuple[str, list[str], int]]:
    """(title, the psfleet command, the exit code it must give)."""
    login = ["--inventory", str(inventory), "-u", "LAB\\admin"]
    return [
        (
            "Run two commands on every node of the cluster (default auth: Negotiate, which "
            "uses NTLM here since no KDC serves LAB; one pool per node, 32 at a time)",
            ["run", "--cluster", _CLUSTER, *login,
             "-c", "Get-Service WinRM | Select-Object Name, Status",
             "-c", "$PSVersionTable.PSVersion.ToString()"],
            0,
        ),
        (
            "Test-Cluster from an NTLM session: the double hop (Access is denied)",
            ["run", "node01", *login, "-c", "Test-Cluster"],
            1,
        ),
        (
            "The same with CredSSP, delegating only to the cluster's nodes",
            ["run", "node01", *login, "--auth", "credssp", "--delegate-to", "node*",
             "-c", "Test-Cluster | Select-Object -ExpandProperty Name"],
            0,
        ),
    ]  # fmt: skip


def main() -> int:
    env = {**os.environ, "PSFLEET_PASSWORD": DEFAULT_PASSWORD}
    unexpected = []
    with tempfile.TemporaryDirectory(prefix="psfleet-demo-") as workdir:
        inventory = Path(workdir) / "inventory.yml"
        sim_args = ["--hosts", str(_NODES), "--cluster", _CLUSTER, "--base-address", _BASE,
                    "--inventory", str(inventory)]  # fmt: skip
        _title(f"Start a simulated {_NODES}-node failover cluster on loopback addresses")
        _show(["psfleet", "sim", *sim_args], background=True)
        with sim_process(*sim_args) as sim:
            print(sim.ready, flush=True)
            for title, args, expected in _steps(inventory):
                _title(title)
                _show(["psfleet", *args])
                code = subprocess.run(
                    [sys.executable, "-m", "psfleet", *args], env=env, check=False
                ).returncode
                if code != expected:
                    unexpected.append(f"{title} (exit {code}, expected {expected})")
            _title("Stop the simulator")
    if unexpected:
        print("\ndemo: unexpected results:\n  " + "\n  ".join(unexpected), file=sys.stderr)
        return 1
    print("\ndemo: every step behaved as expected.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Server CPU per warm command: what simfleet costs, so that it does not hide client cost.

    .venv/bin/python benchmarks/server_cpu.py --commands 2000
    .venv/bin/python benchmarks/server_cpu.py --auth basic --profile /tmp/sim.prof

Starts `psfleet sim` (one host) in its own process, opens one runspace pool with
unmodified pypsrp, warms it up, then runs N small commands (`Get-Service WinRM`, each a
new pipeline, as a fan-out engine would) and reads the server process's CPU time
before and after; the best of --rounds such rounds is reported. ntlm: HTTP with NTLM
message encryption; basic: HTTP Basic with AllowUnencrypted, the WSMan/PSRP work alone.
--profile runs the server under cProfile.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

ADDRESS = "127.1.250.1"
USER, PASSWORD = "LAB\\admin", "psfleet-demo"
_READY_TIMEOUT_S = 60.0
# The server's entry point, optionally under cProfile counting CPU time (not wall time,
# which would charge the server for the moments the client held the CPU).
_SERVER = (
    "import cProfile, sys, time\n"
    "from psfleet.cli.app import main\n"
    "profile = sys.argv.pop(1)\n"
    "sys.argv[0] = 'psfleet'\n"
    "if not profile:\n"
    "    main()\n"
    "profiler = cProfile.Profile(time.process_time)\n"
    "try:\n"
    "    profiler.runcall(main)\n"
    "except SystemExit:\n"
    "    pass\n"
    "profiler.dump_stats(profile)\n"
)


def start_server(auth: str, profile: str) -> tuple[subprocess.Popen[str], int]:
    """`psfleet sim` with one host on a free port; returns the process and the port."""
    inventory = Path(tempfile.mkdtemp(prefix="server-cpu-")) / "inventory.yml"
    command = [sys.executable, "-c", _SERVER, profile, "sim", "--hosts", "1"]
    command += ["--base-address", ADDRESS, "--port", "0", "--inventory", str(inventory)]
    if auth == "basic":
        command.append("--allow-unencrypted")
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    deadline = time.monotonic() + _READY_TIMEOUT_S
    line = ""
    while not line.startswith("ready") and time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            raise SystemExit(f"psfleet sim exited with {server.returncode}")
    port = int(dict(p.split("=", 1) for p in line.split()[1:])["port"])
    return server, port


def server_cpu_s(server: subprocess.Popen[str]) -> float:
    times = psutil.Process(server.pid).cpu_times()
    return float(times.user + times.system)


def server_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{ADDRESS}:{port}/stats", timeout=10) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


def run_commands(pool: RunspacePool, count: int) -> None:
    for _ in range(count):
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-Service").add_parameter("Name", "WinRM")
        output = ps.invoke()
        if ps.had_errors or len(output) != 1:
            raise SystemExit(f"unexpected result: {output} {ps.streams.error}")


def measure(auth: str, commands: int, warmup: int, rounds: int, profile: str) -> dict[str, float]:
    """Best of `rounds` rounds of `commands` commands: other load on the machine only adds."""
    server, port = start_server(auth, profile)
    try:
        wsman = WSMan(
            ADDRESS,
            port=port,
            username=USER,
            password=PASSWORD,
            ssl=False,
            auth="ntlm" if auth == "ntlm" else "basic",
            encryption="always" if auth == "ntlm" else "never",
        )
        results = []
        with RunspacePool(wsman) as pool:
            run_commands(pool, warmup)
            for _ in range(rounds):
                requests_before = server_stats(port)["requests"]
                cpu_before, client_before = server_cpu_s(server), time.process_time()
                started = time.monotonic()
                run_commands(pool, commands)
                wall = time.monotonic() - started
                cpu_after, client_after = server_cpu_s(server), time.process_time()
                requests = server_stats(port)["requests"] - requests_before - 1  # this /stats
                results.append(
                    {
                        "server_ms_per_command": (cpu_after - cpu_before) * 1000 / commands,
                        "client_ms_per_command": (client_after - client_before) * 1000 / commands,
                        "requests_per_command": requests / commands,
                        "commands_per_s": commands / wall,
                    }
                )
        return min(results, key=lambda r: r["server_ms_per_command"])
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--auth", choices=["ntlm", "basic"], default="ntlm")
    parser.add_argument("--profile", default="", help="write the server's cProfile here")
    args = parser.parse_args()
    result = measure(args.auth, args.commands, args.warmup, args.rounds, args.profile)
    print(
        f"auth={args.auth} commands={args.commands} rounds={args.rounds} "
        + " ".join(f"{key}={value:.3f}" for key, value in result.items())
    )


if __name__ == "__main__":
    main()

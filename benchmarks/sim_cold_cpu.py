"""simfleet's CPU per cold host: what the simulator costs for a new host, and where it goes.

    .venv/bin/python -m benchmarks.sim_cold_cpu --auth ntlm --hosts 300
    .venv/bin/python -m benchmarks.sim_cold_cpu --auth kerberos --hosts 300 --profile /tmp/k.prof

Starts `psfleet sim` (its hosts' keys from a real MIT KDC for kerberos/negotiate) in its own
process, then drives its hosts cold with `psfleet run` (connect, authenticate, open the
pool, `Get-Service WinRM`, close) in rounds: a first NTLM round over every host (first-use
costs: imports, caches), then --rounds rounds with --auth. Each round's server CPU (user +
system of the simulator's process, read before and after) is divided by the hosts. The
first round with Kerberos also pays each host's one-time acceptor setup, as the benchmark's
Kerberos case does; later rounds do not. With --profile, one more round runs with the
simulator's cProfile (CPU time) on, and its self time is scaled onto the last unprofiled
round's CPU per host and charged to layers and phases as benchmarks.cold_profile does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from benchmarks.cold_profile import analyse
from benchmarks.kdc import FleetKdc, clean_env
from benchmarks.placement import Placement, pinned
from benchmarks.protocol import CREDENTIAL, KDC_PASSWORD, host_names

BASE_ADDRESS = "127.33.0.1"
PORT = 25985
_READY_TIMEOUT_S = 300.0
_KDC_AUTHS = ("kerberos", "negotiate")
# (layer, what its file path contains); the first match wins (benchmarks.cold_profile).
_LAYERS = (
    ("simfleet HTTP front", "psfleet/simfleet/http_app.py"),
    ("simfleet auth", "psfleet/simfleet/auth.py"),
    ("simfleet auth", "psfleet/simfleet/service_keys.py"),
    ("simfleet auth", "psfleet/simfleet/lockout.py"),
    ("simfleet minips", "psfleet/simfleet/minips/"),
    ("simfleet WSMan + PSRP", "psfleet/simfleet/"),
    ("psfleet wsman (XML)", "psfleet/wsman/"),
    ("psfleet framing", "psfleet/transport/"),
    ("psfleet other", "engine/psfleet/"),
    ("aiohttp", "/aiohttp/"),
    ("aiohttp", "/yarl/"),
    ("aiohttp", "/multidict/"),
    ("auth + encryption", "/spnego/"),
    ("auth + encryption", "/gssapi/"),
    ("auth + encryption", "/krb5/"),
    ("auth + encryption", "/cryptography/"),
    ("psrpcore", "/psrpcore/"),
    ("logging", "/structlog/"),
    ("logging", "/logging/"),
    ("asyncio event loop", "/asyncio/"),
    ("asyncio event loop", "/uvloop/"),
    ("asyncio event loop", "/selectors.py"),
    ("XML (stdlib)", "/xml/"),
)
_PHASES = (
    ("authenticate (Authorization header)", "psfleet/simfleet/auth.py", "step"),
    ("decrypt bodies", "psfleet/transport/framing.py", "unwrap"),
    ("encrypt bodies", "psfleet/transport/framing.py", "wrap"),
    ("parse envelopes", "psfleet/wsman/envelope.py", "parse_envelope"),
    ("Create (open the pool)", "psfleet/simfleet/service.py", "_create"),
    ("Command", "psfleet/simfleet/service.py", "_command"),
    ("Receive", "psfleet/simfleet/service.py", "_receive"),
    ("Signal", "psfleet/simfleet/service.py", "_signal"),
    ("Delete", "psfleet/simfleet/service.py", "_delete"),
)
# The simulator's entry point; with a profile file, cProfile counts CPU time (not wall time,
# which would charge the server for the moments the client held the CPU) between SIGUSR1
# and SIGUSR2, so that start-up and the first-use round stay out of it.
_SERVER = (
    "import cProfile, signal, sys, time\n"
    "from psfleet.cli.app import main\n"
    "profile = sys.argv.pop(1)\n"
    "sys.argv[0] = 'psfleet'\n"
    "profiler = cProfile.Profile(time.process_time)\n"
    "if profile:\n"
    "    signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())\n"
    "    signal.signal(signal.SIGUSR2, lambda *_: profiler.disable())\n"
    "try:\n"
    "    main()\n"
    "except SystemExit:\n"
    "    pass\n"
    "if profile:\n"
    "    profiler.dump_stats(profile)\n"
)


@contextlib.contextmanager
def simulator(
    hosts: int,
    rtt_ms: float,
    scratch: Path,
    kdc: FleetKdc | None,
    profile: str,
    cpus: list[int] | None,
) -> Iterator[tuple[psutil.Process, Path]]:
    """`psfleet sim` (under cProfile when `profile` names a file); yields it and its inventory."""
    inventory = scratch / "inventory.yml"
    command = [sys.executable, "-c", _SERVER, profile, "sim", "--hosts", str(hosts)]
    command += ["--base-address", BASE_ADDRESS, "--port", str(PORT), "--inventory", str(inventory)]
    command += ["--rtt-ms", f"{rtt_ms:g}"]
    env = clean_env()
    if kdc is not None:
        command += ["--keytab", str(kdc.keytab)]
        env |= kdc.server_env()
    server = subprocess.Popen(pinned(command, cpus), stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        deadline, line = time.monotonic() + _READY_TIMEOUT_S, ""
        while not line.startswith("ready") and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                raise SystemExit(f"psfleet sim exited with {server.returncode}")
        yield psutil.Process(server.pid), inventory
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)


def cpu_s(process: psutil.Process) -> tuple[float, float]:
    """(user, system) CPU seconds of the process so far."""
    times = process.cpu_times()
    return float(times.user), float(times.system)


def cold_round(
    auth: str,
    inventory: Path,
    user: str,
    password: str,
    env: dict[str, str],
    cpus: list[int] | None,
) -> None:
    """Every host of the inventory once, cold, with psfleet's client."""
    psfleet = str(Path(sys.executable).with_name("psfleet"))
    command = [psfleet, "run", "all", "--inventory", str(inventory), "-c", "Get-Service WinRM"]
    command += ["--auth", auth, "-u", user, "--retries", "0", "--throttle", "256", "--quiet"]
    done = subprocess.run(
        pinned(command, cpus),
        env=env | {"PSFLEET_PASSWORD": password},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"psfleet run {auth} failed ({done.returncode}): {done.stdout[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--auth", choices=["ntlm", "kerberos", "negotiate"], default="ntlm")
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rtt-ms", type=float, default=20.0, help="as the benchmark's cases")
    parser.add_argument("--profile", default="", help="write the simulator's cProfile here")
    parser.add_argument("--pin", action="store_true", help="client on CPU 0, simulator on 1")
    args = parser.parse_args()
    placement = Placement.choose(args.pin)
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-cold-")))
        kdc = None
        user, password, env = CREDENTIAL[0], CREDENTIAL[1], clean_env()
        if args.auth in _KDC_AUTHS:
            kdc = stack.enter_context(FleetKdc(host_names(args.hosts), cpus=placement.server))
            user, password = kdc.new_user(), KDC_PASSWORD
            env |= kdc.client_env(scratch)
        server, inventory = stack.enter_context(
            simulator(args.hosts, args.rtt_ms, scratch, kdc, args.profile, placement.server)
        )
        cold_round("ntlm", inventory, CREDENTIAL[0], CREDENTIAL[1], clean_env(), placement.client)
        results: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            before = cpu_s(server)
            cold_round(args.auth, inventory, user, password, env, placement.client)
            after = cpu_s(server)
            user_ms, system_ms = (
                (a - b) * 1000 / args.hosts for a, b in zip(after, before, strict=True)
            )
            results.append((user_ms, system_ms))
        if args.profile:
            server.send_signal(signal.SIGUSR1)
            cold_round(args.auth, inventory, user, password, env, placement.client)
            server.send_signal(signal.SIGUSR2)
    rounds = " ".join(f"{user + system:.3f}" for user, system in results)
    split = " ".join(f"{user:.2f}+{system:.2f}" for user, system in results)
    print(
        f"auth={args.auth} hosts={args.hosts} sim_cpu_ms_per_cold_host_by_round={rounds}"
        f" user+sys={split}"
    )
    if args.profile:
        # The profiled round is a later one: scaled onto the last unprofiled round's CPU.
        true_cpu_s = sum(results[-1]) * args.hosts / 1000
        print(json.dumps(analyse(args.profile, args.hosts, true_cpu_s, _LAYERS, _PHASES), indent=1))


if __name__ == "__main__":
    os.environ.pop("PSFLEET_PASSWORD", None)
    main()

"""The simulated fleet in its own process(es): start, read counters and CPU, stop.

The simulator runs as `psfleet sim`, pinned to its own CPU when there are two or
more, so the client's and the server's CPU never mix: the client's is measured in
the client's process, the server's here from the simulator's process tree.
"""

from __future__ import annotations

import json
import selectors
import signal
import ssl
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import psutil

from benchmarks.cases import Fleet
from benchmarks.kdc import FleetKdc, clean_env
from benchmarks.placement import pinned

BASE_ADDRESS = "127.77.0.1"
HTTP_PORT = 25985
HTTPS_PORT = 25986
_START_TIMEOUT_S = 300.0
_STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class SimCounters:
    requests: int
    shells_opened: int
    commands_run: int
    bytes_in: int
    bytes_out: int
    auth_failures: int
    faults: int

    @classmethod
    def of(cls, stats: dict[str, Any]) -> SimCounters:
        return cls(**{name: int(stats[name]) for name in cls.__slots__})

    def minus(self, before: SimCounters) -> SimCounters:
        return SimCounters(*(getattr(self, n) - getattr(before, n) for n in SimCounters.__slots__))


class Simulator:
    """`with Simulator(fleet, log, cpus=[1]) as sim:` a running `psfleet sim` for one fleet;
    with `kdc`, its hosts accept Kerberos with that KDC's keys."""

    def __init__(
        self,
        fleet: Fleet,
        log: IO[str],
        *,
        cpus: list[int] | None,
        workers: int = 1,
        kdc: FleetKdc | None = None,
        base_address: str = BASE_ADDRESS,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.fleet = fleet
        self.base_address = base_address
        self.extra_args = extra_args
        self.kdc = kdc
        self.cpus = cpus
        self.workers = workers
        self.port = HTTPS_PORT if fleet.tls else HTTP_PORT
        self.ready: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None
        # A file, not a pipe: nobody reads the simulator's log while it runs, and a full
        # pipe would stall it.
        self._log = log

    @property
    def ca_file(self) -> str | None:
        return self.ready.get("ca")

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def command(self) -> list[str]:
        psfleet = str(Path(sys.executable).with_name("psfleet"))
        command = [
            psfleet,
            "sim",
            "--hosts",
            str(self.fleet.hosts),
            "--base-address",
            self.base_address,
            "--port",
            str(self.port),
            "--rtt-ms",
            f"{self.fleet.rtt_ms:g}",
            "--workers",
            str(self.workers),
        ]
        command += self.extra_args
        if self.fleet.tls:
            command.append("--tls")
        if self.kdc is not None:
            command += ["--keytab", str(self.kdc.keytab)]
        return pinned(command, self.cpus)

    def env(self) -> dict[str, str]:
        return clean_env() | (self.kdc.server_env() if self.kdc is not None else {})

    def __enter__(self) -> Simulator:
        self._process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=self._log, text=True, env=self.env()
        )
        assert self._process.stdout is not None
        line = _read_line(self._process, self._log, _START_TIMEOUT_S)
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"psfleet sim did not start: {line!r}")
        self.ready = dict(part.split("=", 1) for part in line.split()[1:])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def counters(self) -> SimCounters:
        scheme = "https" if self.fleet.tls else "http"
        context = ssl.create_default_context(cafile=self.ca_file) if self.fleet.tls else None
        url = f"{scheme}://{self.base_address}:{self.port}/stats"
        with urllib.request.urlopen(url, timeout=60, context=context) as response:
            return SimCounters.of(json.load(response))

    def cpu_s(self) -> float:
        """User + system CPU of the simulator and its worker processes so far."""
        root = psutil.Process(self.pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total


def _read_line(process: subprocess.Popen[str], log: IO[str], timeout_s: float) -> str:
    """The first stdout line, or what went wrong (its log) if the process ended first."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return f"no ready line within {timeout_s:g}s"
    line = process.stdout.readline()
    if line:
        return line.strip()
    process.wait()
    log.seek(0)
    return f"exited {process.returncode}: {log.read().strip()[-2000:]}"

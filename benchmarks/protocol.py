"""How the harness and a tool's child process talk: a spec in, marked lines out.

The child prints `BENCH {json}` lines on stdout. `start` and `end` bracket the
measured section; at each the child waits for the parent's `go`, so the parent's
snapshots of the simulator (CPU, request counters) bracket exactly the same
section. Then `result` (the figures) and, after tearing down, `cleanup`.
This module imports nothing from psfleet: a peer's child must not pay for it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

PREFIX = "BENCH "
CREDENTIAL = ("LAB\\admin", "psfleet-demo")
# The password of the accounts the harness adds to its own throwaway KDC (benchmarks/kdc.py).
KDC_PASSWORD = "Bench-Kerb3ros!"
_KDC_AUTHS = ("kerberos", "negotiate")  # benchmarks.cases.KDC_AUTHS


@dataclass(frozen=True, slots=True)
class ChildSpec:
    kind: str  # cold, warm, large
    tool: str  # psfleet, pypsrp, pywinrm
    threads: int | None
    hosts: int
    base_address: str
    port: int
    tls: bool
    ca_file: str | None
    auth: str  # ntlm, basic-https, kerberos, negotiate, negotiate-no-kdc
    user: str  # CREDENTIAL's, or the case's own principal on the harness's KDC
    script: str
    expected_objects: int
    time_limit_s: float
    throttle: int
    cpus: list[int] | None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ChildSpec:
        return cls(**json.loads(text))

    def credential(self) -> tuple[str, str]:
        return (self.user, KDC_PASSWORD if self.auth in _KDC_AUTHS else CREDENTIAL[1])

    def targets(self) -> list[tuple[str, str]]:
        """(name, address) of every host, named and addressed as `psfleet sim` does."""
        names = host_names(self.hosts)
        return list(zip(names, loopback_addresses(self.base_address, self.hosts), strict=True))


def host_names(count: int) -> list[str]:
    """node01.. or node0001..: `psfleet sim`'s names, which Kerberos SPNs are built from."""
    width = max(2, len(str(count)))
    return [f"node{i:0{width}d}" for i in range(1, count + 1)]


def loopback_addresses(base: str, count: int) -> list[str]:
    """Consecutive IPv4 addresses from `base`, skipping .0 and .255 (simfleet's rule)."""
    value = int.from_bytes(bytes(int(part) for part in base.split(".")), "big")
    addresses: list[str] = []
    while len(addresses) < count:
        last = value & 0xFF
        if last not in (0, 255):
            addresses.append(".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0)))
        value += 1
    return addresses


def emit(event: str, **payload: Any) -> None:
    sys.stdout.write(PREFIX + json.dumps({"event": event, **payload}) + "\n")
    sys.stdout.flush()


def sync(event: str) -> None:
    """Mark a boundary of the measured section and wait until the parent has taken its snapshot."""
    emit(event)
    sys.stdin.readline()


def parse(line: str) -> dict[str, Any] | None:
    if not line.startswith(PREFIX):
        return None
    message: dict[str, Any] = json.loads(line[len(PREFIX) :])
    return message

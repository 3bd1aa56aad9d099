"""Which CPUs the client and the simulator run on, so their CPU never mixes.

With two or more CPUs the client (the tool under test, or `psfleet bench`) gets CPU 0
and the simulator the rest: each tool has one core, as the limit model assumes, and
the simulator's work never shows up as the client's wall time.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from typing import Any

import psutil


@dataclass(frozen=True, slots=True)
class Placement:
    client: list[int] | None  # None: anywhere
    server: list[int] | None

    @classmethod
    def choose(cls, pin: bool) -> Placement:
        cpus = sorted(psutil.Process().cpu_affinity() or [])
        if not pin or len(cpus) < 2 or shutil.which("taskset") is None:
            return cls(None, None)
        return cls([cpus[0]], cpus[1:])

    def cores(self, side: list[int] | None) -> int:
        return len(side) if side is not None else psutil.cpu_count() or 1

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"pinned": self.client is not None}


def pinned(command: list[str], cpus: list[int] | None) -> list[str]:
    """`command` restricted to `cpus` (taskset), or unchanged when not pinning."""
    taskset = shutil.which("taskset")
    if cpus is None or taskset is None:
        return command
    return [taskset, "-c", ",".join(map(str, cpus)), *command]

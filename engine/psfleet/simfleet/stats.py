"""Fleet counters that prove nothing leaked and nothing ran twice (GET /stats).

Counters live in one flat array of int64, a row per host, so worker processes can
share it (multiprocessing.RawArray) and any of them can answer for the whole fleet.
Each row is written only by the process that owns the host, so no lock is needed.
"""

from __future__ import annotations

import enum
from collections.abc import MutableSequence, Sequence
from typing import Any


class Counter(enum.IntEnum):
    SHELLS_OPEN = 0
    SHELLS_OPENED = 1
    COMMANDS_RUN = 2
    EXECUTIONS = 3
    AUTH_FAILURES = 4
    BYTES_IN = 5
    BYTES_OUT = 6
    REQUESTS = 7
    FAULTS = 8
    REPLAYED = 9  # executions answered from the host's recorded answers
    FILE_BYTES_WRITTEN = 10  # to the host's simulated disk
    FILE_BYTES_READ = 11


_KEYS = {c: c.name.lower() for c in Counter}
WIDTH = len(Counter)


class FleetStats:
    def __init__(self, names: Sequence[str], cells: MutableSequence[int] | None = None) -> None:
        self.names = list(names)
        self._index = {n.lower(): i for i, n in enumerate(self.names)}
        self._cells: MutableSequence[int] = (
            cells if cells is not None else [0] * (len(names) * WIDTH)
        )

    @property
    def cells(self) -> MutableSequence[int]:
        return self._cells

    def row(self, host: str) -> int:
        return self._index[host.lower()] * WIDTH

    def add(self, row: int, counter: Counter, amount: int = 1) -> None:
        self._cells[row + counter] += amount

    def host(self, name: str) -> dict[str, int]:
        base = self.row(name)
        return {_KEYS[c]: int(self._cells[base + c]) for c in Counter}

    def snapshot(self, only: str | None = None) -> dict[str, Any]:
        names = [only] if only is not None else self.names
        hosts = {n: self.host(n) for n in names}
        totals = {key: sum(h[key] for h in hosts.values()) for key in _KEYS.values()}
        return {**totals, "hosts": hosts}

    def knows(self, name: str) -> bool:
        return name.lower() in self._index

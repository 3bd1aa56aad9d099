"""What a run returns: one HostResult per target, in target order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from psfleet.events import HostStatus, RecordEvent, Stream


@dataclass(slots=True)
class HostResult:
    host: str
    status: HostStatus = HostStatus.CANCELLED
    duration_s: float = 0.0
    attempts: int = 0
    error_type: str | None = None
    error_message: str | None = None
    remedy: str | None = None
    records: list[RecordEvent] = field(default_factory=list, repr=False)
    # copy and fetch: payload bytes moved, the file's SHA-256 (one file), whether it
    # changed, and the paths written (remote for copy, local for fetch)
    bytes: int | None = None
    sha256: str | None = None
    changed: bool | None = None
    files: list[str] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is HostStatus.OK

    @property
    def output(self) -> list[Any]:
        return [r.data for r in self.records if r.stream is Stream.OUTPUT]

    @property
    def errors(self) -> list[Any]:
        return [r.data for r in self.records if r.stream is Stream.ERROR]


@dataclass(slots=True)
class FleetResult:
    hosts: dict[str, HostResult]
    wall_s: float = 0.0
    interrupted: bool = False
    # Hosts where a shell may still be open: its Delete could not be confirmed.
    shells_possibly_open: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[HostStatus, int]:
        counted = Counter(h.status for h in self.hosts.values())
        return {status: counted.get(status, 0) for status in HostStatus}

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hosts.values())

    @property
    def exit_code(self) -> int:
        """0 all ok, 1 some host not ok, 130 interrupted (as the CLI exits)."""
        if self.interrupted:
            return 130
        return 0 if self.ok else 1

    def __getitem__(self, host: str) -> HostResult:
        return self.hosts[host]

    def __iter__(self) -> Iterator[HostResult]:
        return iter(self.hosts.values())

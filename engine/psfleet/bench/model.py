"""The limit model: how fast a fan-out can go, given RTT, round trips and client CPU per host.

A host keeps a slot busy for its latency (round trips x RTT, plus the CPU spent on it)
while costing the client `cpu_s` of one core. So one core is saturated once
`concurrency >= latency / cpu_s`; below that the fan-out is latency-bound at
`concurrency / latency` hosts per second, above it CPU-bound at `1 / cpu_s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LimitModel:
    round_trips: float  # network round trips per host (auth legs included)
    rtt_s: float
    cpu_s: float  # client CPU per host, seconds of one core
    server_s: float = 0.0  # time the host itself spends per host (adds latency, not CPU)

    @property
    def latency_s(self) -> float:
        return self.round_trips * self.rtt_s + self.server_s + self.cpu_s

    def needed_concurrency(self, cores: float = 1.0) -> int:
        """Hosts in flight that keep `cores` client cores busy: latency / CPU per host."""
        if self.cpu_s <= 0:
            return 1
        ratio = self.latency_s / self.cpu_s * cores
        return max(1, math.ceil(ratio - 1e-9))  # 0.15 / 0.01 is 15.000000000000002

    def hosts_per_s(self, concurrency: int, cores: float = 1.0) -> float:
        latency_bound = concurrency / self.latency_s if self.latency_s > 0 else math.inf
        cpu_bound = cores / self.cpu_s if self.cpu_s > 0 else math.inf
        return min(latency_bound, cpu_bound)

    def limit(self, concurrency: int, cores: float = 1.0) -> str:
        """'cpu' when the client's cores are the bottleneck, else 'latency' (raise the throttle)."""
        return "cpu" if concurrency >= self.needed_concurrency(cores) else "latency"

    def wall_s(self, hosts: int, concurrency: int, cores: float = 1.0) -> float:
        """Predicted time for `hosts`: the throughput bound plus the last host's own latency."""
        return hosts / self.hosts_per_s(concurrency, cores) + self.latency_s

"""Percentile summaries of timings: the {"p50", "p95", "max"} figures every report shows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    min: float
    p50: float
    p95: float
    max: float

    def as_json(self, digits: int = 2) -> dict[str, float | int]:
        return {
            "p50": round(self.p50, digits),
            "p95": round(self.p95, digits),
            "max": round(self.max, digits),
            "min": round(self.min, digits),
            "count": self.count,
        }


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default), on sorted values."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(values: Sequence[float]) -> Summary | None:
    if not values:
        return None
    ordered = sorted(values)
    return Summary(
        count=len(ordered),
        min=ordered[0],
        p50=percentile(ordered, 0.5),
        p95=percentile(ordered, 0.95),
        max=ordered[-1],
    )


def summary_json(values: Sequence[float]) -> dict[str, float | int] | None:
    summary = summarize(values)
    return summary.as_json() if summary is not None else None

"""Seeded, deterministic fault injection per simulated host.

Spec: comma-separated `kind:selector[@param]` entries. The selector is a share of
the fleet (`5%`) or host names (`node03`, more names may follow as bare entries:
`refuse:node03,node07`). Which hosts a share picks depends only on the seed and
the host names, so a run can be repeated exactly.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from psfleet.errors import UsageError
from psfleet.simfleet.hostfacts import stable_hash


class FaultKind(enum.StrEnum):
    NONE = "none"
    REFUSE = "refuse"  # nothing listens: connection refused
    BLACKHOLE = "blackhole"  # TCP accepted, never answered
    DELAY = "delay"  # every response later by @ms (default 100)
    SLOW = "slow"  # every response much later by @ms (default 1000)
    HTTP500 = "http500"  # every WSMan request answered 500 without a fault body
    HTTP503 = "http503"  # the first @N requests answered 503 (default: all)
    AUTHFAIL = "authfail"  # every credential rejected
    DROP = "drop"  # the connection is cut when a Receive has pipeline output
    FLAP = "flap"  # connections reset for the first @s seconds (default 3), then fine


_DEFAULT_PARAMS = {
    FaultKind.DELAY: 100.0,
    FaultKind.SLOW: 1000.0,
    FaultKind.HTTP503: float("inf"),
    FaultKind.FLAP: 3.0,
}
_SHARE = re.compile(r"^(\d+(?:\.\d+)?)%$")


@dataclass(frozen=True, slots=True)
class HostFault:
    kind: FaultKind = FaultKind.NONE
    param: float = 0.0

    @property
    def none(self) -> bool:
        return self.kind is FaultKind.NONE


NO_FAULT = HostFault()


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: FaultKind
    share: float | None  # fraction of the fleet, or None for a host list
    hosts: tuple[str, ...]
    param: float


def _parse_param(kind: FaultKind, text: str) -> float:
    if not text:
        return _DEFAULT_PARAMS.get(kind, 0.0)
    number = re.match(r"^(\d+(?:\.\d+)?)\s*(ms|s)?$", text.strip())
    if number is None:
        raise UsageError(f"fault parameter {text!r} is not a number (like 250ms, 5s or 3)")
    return float(number.group(1))


def parse_spec(spec: str) -> list[_Rule]:
    rules: list[_Rule] = []
    for raw in (part.strip() for part in spec.split(",")):
        if not raw:
            continue
        kind_text, sep, rest = raw.partition(":")
        if not sep:
            # A bare name continues the previous entry's host list.
            if not rules or rules[-1].share is not None:
                raise UsageError(f"fault entry {raw!r} should look like kind:selector")
            previous = rules[-1]
            rules[-1] = _Rule(previous.kind, None, (*previous.hosts, raw.lower()), previous.param)
            continue
        try:
            kind = FaultKind(kind_text.strip().lower())
        except ValueError:
            names = ", ".join(k.value for k in FaultKind if k is not FaultKind.NONE)
            raise UsageError(f"unknown fault kind {kind_text!r}; known: {names}") from None
        selector, _, param_text = rest.partition("@")
        share = _SHARE.match(selector.strip())
        param = _parse_param(kind, param_text)
        if share is not None:
            rules.append(_Rule(kind, float(share.group(1)) / 100, (), param))
        elif selector.strip():
            rules.append(_Rule(kind, None, (selector.strip().lower(),), param))
        else:
            raise UsageError(f"fault entry {raw!r} names no hosts and no share")
    return rules


def plan_faults(spec: str, hosts: Sequence[str], seed: int) -> dict[str, HostFault]:
    """The fault of every host (NO_FAULT for most): host lists first, then shares in order."""
    rules = parse_spec(spec)
    plan = {name: NO_FAULT for name in hosts}
    known = {name.lower(): name for name in hosts}
    for rule in rules:
        for wanted in rule.hosts:
            if wanted not in known:
                raise UsageError(f"fault spec names unknown host {wanted!r}")
            plan[known[wanted]] = HostFault(rule.kind, rule.param)
    # Each share picks, among hosts still healthy, those ranked first by a seeded hash.
    for rule in (r for r in rules if r.share is not None):
        healthy = [n for n in hosts if plan[n].none]
        wanted_count = round(len(hosts) * (rule.share or 0.0))
        ranked = sorted(healthy, key=lambda n: stable_hash(f"{seed}:{rule.kind}:{n}"))
        for name in ranked[:wanted_count]:
            plan[name] = HostFault(rule.kind, rule.param)
    return plan

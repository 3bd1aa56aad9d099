"""Where a cold host's client CPU goes: `python -m benchmarks.cold_profile SPEC_JSON HOSTS`.

psfleet.arun one host at a time (throttle 1, RTT 0, so only CPU shows), first
without a profiler (the true CPU per host), then under cProfile with a CPU-time
timer. cProfile slows Python code down unevenly, so its shares are scaled onto
the unprofiled CPU per host: a layer's ms is its share of profiled self time
times the true CPU. Self time spent in generic helpers (stdlib modules such as enum,
hmac, uuid, and builtins such as isinstance) is charged to the layers that called
them, in proportion. Run in a child pinned to the client CPU, like every tool.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections import defaultdict
from typing import Any

import psfleet
from benchmarks.protocol import ChildSpec, emit
from benchmarks.tools.psfleet_tool import settings
from psfleet import eventloop
from psfleet.targets.model import Target

_WARM_UP_HOSTS = 5  # imports, first-use caches and key derivation are not per-host costs
_TOP = 25
# (layer, what its file path contains); the first match wins.
_FILE_LAYERS = (
    ("psfleet transport", "engine/psfleet/transport/"),
    ("psfleet wsman (XML)", "engine/psfleet/wsman/"),
    ("psfleet session (PSRP)", "engine/psfleet/session/"),
    ("psfleet fan-out", "engine/psfleet/fanout/"),
    ("psfleet other", "engine/psfleet/"),
    ("aiohttp", "/aiohttp/"),
    ("aiohttp", "/yarl/"),
    ("aiohttp", "/multidict/"),
    ("auth + encryption", "/spnego/"),
    ("auth + encryption", "/cryptography/"),
    ("psrpcore", "/psrpcore/"),
    ("anyio + tenacity", "/anyio/"),
    ("anyio + tenacity", "/tenacity/"),
    ("logging", "/structlog/"),
    ("logging", "/logging/"),
    ("asyncio event loop", "/asyncio/"),
    ("asyncio event loop", "/selectors.py"),
    ("XML (stdlib)", "/xml/"),
)
# Built-in functions have no file: judge them by name.
_BUILTIN_LAYERS = (
    ("auth + encryption", ("_hashlib", "hmac", "_rust", "cryptography", "rc4", "_ssl")),
    ("socket system calls", ("socket", "send", "recv", "connect")),
    ("asyncio event loop", ("poll", "select")),
    ("XML (stdlib)", ("pyexpat", "XMLParser", "xml", "ElementTree")),
)
# The cold path's phases, by (file path suffix, function): cumulative time per host.
_PHASES = (
    (
        "open the pool: connect, authenticate, Create, Receive",
        "engine/psfleet/client.py",
        "open_pool",
    ),
    ("... of which the auth handshake", "engine/psfleet/transport/channel.py", "_authenticate"),
    ("run the command: Command, Receive", "engine/psfleet/fanout/attempt.py", "_run_commands"),
    ("close the pool: Delete", "engine/psfleet/session/pool.py", "aclose"),
)


FileLayers = tuple[tuple[str, str], ...]
Phases = tuple[tuple[str, str, str], ...]


def layer_of(filename: str, function: str, file_layers: FileLayers = _FILE_LAYERS) -> str:
    if filename == "~":
        for layer, words in _BUILTIN_LAYERS:
            if any(word in function for word in words):
                return layer
        return _BUILTINS
    for layer, marker in file_layers:
        if marker in filename:
            return layer
    return _STDLIB if "/lib/python3" in filename else "other"


Key = tuple[str, int, str]
_STDLIB = "python stdlib (other)"
_BUILTINS = "builtins (other)"
_GENERIC = (_STDLIB, _BUILTINS)
_CALLER_DEPTH = 4


def owners(
    key: Key, stats: dict[Key, Any], depth: int = 0, file_layers: FileLayers = _FILE_LAYERS
) -> dict[str, float]:
    """Which layers a function's self time belongs to: its own, or (for a generic helper)
    its callers', weighted by how much of its time each caller's calls took."""
    layer = layer_of(key[0], key[2], file_layers)
    callers = stats[key][4]
    spent = sum(edge[2] for edge in callers.values())
    if layer not in _GENERIC or depth == _CALLER_DEPTH or spent <= 0:
        return {layer: 1.0}
    shares: dict[str, float] = defaultdict(float)
    for caller, edge in callers.items():
        for owner, weight in owners(caller, stats, depth + 1, file_layers).items():
            shares[owner] += weight * edge[2] / spent
    return shares


def short(filename: str, line: int, function: str) -> str:
    for marker in ("site-packages/", "/engine/psfleet/", "/lib/python3.11/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker == "/engine/psfleet/":
                filename = "psfleet/" + filename
            break
    return function if filename == "~" else f"{filename}:{line}({function})"


async def cold_hosts(targets: list[Target], spec: ChildSpec) -> float:
    """Client CPU seconds to run the cold path on `targets`, one at a time."""
    started = time.process_time()
    result = await psfleet.arun(targets, spec.script, **settings(spec) | {"throttle": 1})
    if not result.ok:
        failed = [h for h in result if not h.ok]
        raise RuntimeError(f"{len(failed)} hosts failed, e.g. {failed[0]}")
    return time.process_time() - started


def analyse(
    profile: cProfile.Profile | str,
    hosts: int,
    true_cpu_s: float,
    file_layers: FileLayers = _FILE_LAYERS,
    phases_of: Phases = _PHASES,
) -> dict[str, Any]:
    """Layers, phases and top functions in true ms per host (see the module's docstring);
    `profile` a profiler or a file it was dumped to."""
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    profiled = sum(entry[2] for entry in stats.values())  # total self time
    scale = true_cpu_s / profiled / hosts * 1000  # profiled seconds -> true ms per host
    layers: dict[str, float] = defaultdict(float)
    rows = []
    phases: dict[str, float] = {}
    for key, (_, calls, self_s, cumulative_s, _) in stats.items():
        filename, line, function = key
        for owner, weight in owners(key, stats, 0, file_layers).items():
            layers[owner] += self_s * scale * weight
        rows.append((self_s, cumulative_s, calls, short(filename, line, function)))
        for label, suffix, name in phases_of:
            if filename.endswith(suffix) and function == name:
                phases[label] = phases.get(label, 0.0) + cumulative_s * scale
    rows.sort(reverse=True)
    return {
        "layers_ms_per_host": {k: round(v, 3) for k, v in sorted(layers.items(), key=_by_value)},
        "phases_ms_per_host": {
            label: round(phases[label], 3) for label, _, _ in phases_of if label in phases
        },
        "top": [
            {
                "function": name,
                "self_ms_per_host": round(self_s * scale, 3),
                "cumulative_ms_per_host": round(cumulative_s * scale, 3),
                "calls_per_host": round(calls / hosts, 2),
            }
            for self_s, cumulative_s, calls, name in rows[:_TOP]
        ],
        "profiled_cpu_ms_per_host": round(profiled / hosts * 1000, 3),
    }


def _by_value(item: tuple[str, float]) -> float:
    return -item[1]


async def main(spec: ChildSpec, hosts: int) -> dict[str, Any]:
    targets = [Target(name, address, spec.port) for name, address in spec.targets()[:hosts]]
    await cold_hosts(targets[:_WARM_UP_HOSTS], spec)
    true_cpu_s = await cold_hosts(targets, spec)
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    await cold_hosts(targets, spec)
    profile.disable()
    return {
        "hosts": len(targets),
        "script": spec.script,
        "cpu_ms_per_host": round(true_cpu_s / len(targets) * 1000, 3),
    } | analyse(profile, len(targets), true_cpu_s)


if __name__ == "__main__":
    child_spec = ChildSpec.from_json(sys.argv[1])
    if child_spec.cpus is not None:
        os.sched_setaffinity(0, child_spec.cpus)
    emit("profile", **eventloop.run(main, child_spec, int(sys.argv[2])))

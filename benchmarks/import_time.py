"""What starting psfleet costs: `import psfleet`, `psfleet --version`, `psfleet run --help`.

    .venv/bin/python -m benchmarks.import_time --runs 20 [--against ../other-checkout]

Each case runs in a fresh interpreter. Warm: the bytecode is cached (the usual case
after `pip install`, which compiles it). Cold: PYTHONPYCACHEPREFIX points at a new empty
directory, so every module, psfleet's and its libraries', is compiled from source first.
Reported: the median wall time and the median CPU time (user + system) of the child;
CPU time is the steadier figure on a shared machine. With --against, the same cases run
against another checkout's engine/ and plugins/ (through PYTHONPATH), alternated run by
run with this one so both see the same load. `--breakdown` lists the top-level packages
that `import psfleet` spends its time in (`python -X importtime`, self times summed, warm).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

CASES = {
    "import psfleet": ["-c", "import psfleet"],
    "psfleet --version": ["-m", "psfleet", "--version"],
    "psfleet run --help": ["-m", "psfleet", "run", "--help"],
}


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: Sequence[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh interpreter."""
    cpu = _child_cpu()
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - start, _child_cpu() - cpu


def environment(source: Path | None, *, cold: bool) -> dict[str, str]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = f"{source / 'engine'}{os.pathsep}{source / 'plugins'}"
    if cold:
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="psfleet-pycache-")
    return env


def measure(runs: int, sources: dict[str, Path | None]) -> None:
    for cold in (False, True):
        for case, args in CASES.items():
            samples: dict[str, list[tuple[float, float]]] = {label: [] for label in sources}
            for source in sources.values():  # a first untimed run fills the bytecode cache
                run_once(args, environment(source, cold=False))
            for _ in range(runs):
                for label, source in sources.items():
                    samples[label].append(run_once(args, environment(source, cold=cold)))
            for label, timed in samples.items():
                wall = statistics.median(w for w, _ in timed) * 1000
                cpu = statistics.median(c for _, c in timed) * 1000
                kind = "cold" if cold else "warm"
                print(f"{kind}  {case:<20} {label:<10} wall {wall:6.0f} ms  cpu {cpu:6.0f} ms")


def breakdown(top: int) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import psfleet"],
        check=True,
        capture_output=True,
        text=True,
    )
    # Lines are "import time: self | cumulative | name"; summing the self times by top-level
    # package says which library costs what, wherever in the tree it was imported.
    totals: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+\d+ \| *(\S+)", line)
        if match:
            package = match.group(2).split(".")[0]
            totals[package] = totals.get(package, 0) + int(match.group(1))
    print(f"{'all':<24} {sum(totals.values()) / 1000:7.1f} ms")
    for package, micros in sorted(totals.items(), key=lambda item: -item[1])[:top]:
        print(f"{package:<24} {micros / 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--breakdown", action="store_true")
    options = parser.parse_args()
    if options.breakdown:
        breakdown(top=12)
        return
    sources: dict[str, Path | None] = {"this": None}
    if options.against is not None:
        sources["against"] = options.against.resolve()
    measure(options.runs, sources)


if __name__ == "__main__":
    main()

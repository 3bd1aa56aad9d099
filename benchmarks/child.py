"""One tool on one case, in a process of its own: `python -m benchmarks.child SPEC_JSON`.

Its own process so that peak RSS, open files and CPU are the tool's alone; pinned
to the client CPU so that it never shares a core with the simulator.
"""

from __future__ import annotations

import importlib
import os
import resource
import sys

from benchmarks.protocol import ChildSpec, emit
from benchmarks.tools.outcome import Outcome
from psfleet import eventloop


def main() -> None:
    spec = ChildSpec.from_json(sys.argv[1])
    if spec.cpus is not None:
        os.sched_setaffinity(0, spec.cpus)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tool = importlib.import_module(f"benchmarks.tools.{spec.tool}_tool")
    if spec.tool in ("psfleet", "dask"):
        eventloop.freeze_startup_heap()  # as the psfleet CLI does

    def report(outcome: Outcome) -> None:
        emit("result", **outcome.as_json())

    close_s = tool.run(spec, report)
    emit("cleanup", close_s=close_s)


if __name__ == "__main__":
    main()

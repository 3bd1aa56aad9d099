"""The fan-out: run the same commands on many hosts at once, with limits, retries and events."""

from psfleet.fanout.api import Fleet, arun, run, stream
from psfleet.fanout.executor import Executor, LocalExecutor
from psfleet.fanout.ondask import DaskExecutor
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult, HostResult

__all__ = [
    "DaskExecutor",
    "Executor",
    "Fleet",
    "FleetResult",
    "HostResult",
    "LocalExecutor",
    "RunOptions",
    "arun",
    "run",
    "stream",
]

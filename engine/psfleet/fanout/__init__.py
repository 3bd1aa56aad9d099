"""The fan-out: run the same commands on many hosts at once, with limits, retries and events."""

from psfleet.fanout.api import Fleet, arun, run, stream
from psfleet.fanout.options import RunOptions
from psfleet.fanout.result import FleetResult, HostResult

__all__ = ["Fleet", "FleetResult", "HostResult", "RunOptions", "arun", "run", "stream"]

"""simfleet: a simulated fleet of WinRM/PSRP hosts for the demo, tests and benchmarks.

In process: `async with SimFleet(SimConfig(hosts=64, cluster="CLUSTER01")) as fleet`;
from a shell: `psfleet sim --hosts 64 --cluster CLUSTER01` (docs/simfleet.md).
"""

from psfleet.simfleet.config import Quotas, SimConfig
from psfleet.simfleet.fleet import SimFleet, SimHost

__all__ = ["Quotas", "SimConfig", "SimFleet", "SimHost"]

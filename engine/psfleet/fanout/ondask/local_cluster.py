"""The Dask settings of a cluster psfleet starts on this machine (--executor local-cluster).

Every Dask server (scheduler, nanny, worker) measures its event loop's lag every
`distributed.admin.tick.interval` (20 ms), only to warn when the loop was blocked for
seconds. In a LocalCluster the scheduler and the nannies live in the client's process: at
20 ms the ticks alone cost it about 10 ms of CPU a second while idle, 0.05 ms a host at
5000 hosts in 28 s. At 500 ms the warning still comes, 0.5 s later.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

SETTINGS = {"distributed.admin.tick.interval": "500ms"}


@contextlib.contextmanager
def local_cluster_settings() -> Iterator[None]:
    """Create the cluster inside this block: its servers read the settings when created."""
    import dask  # noqa: PLC0415 (the optional extra)

    with dask.config.set(SETTINGS):
        yield

"""--cluster NAME: ask one node of the cluster for its nodes (Get-ClusterNode)."""

from __future__ import annotations

import anyio

from psfleet.client import open_lone_pool
from psfleet.errors import OperationTimeout, ProtocolError
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.fanout.options import RunOptions
from psfleet.targets.model import Target

_NODES_SCRIPT = "Get-ClusterNode | Select-Object -ExpandProperty Name"


async def cluster_node_names(target: Target, options: RunOptions) -> list[str]:
    """The node names the cluster reports; the caller tries the next node when this raises."""
    # One query before the run (and its broker) exists: the node's own broker.
    pool = await open_lone_pool(
        endpoint_for(target, options), client_options_for(target, options.client)
    )
    try:
        with anyio.fail_after(options.client.timeouts.request):
            result = await pool.invoke(_NODES_SCRIPT)
    except TimeoutError:
        raise OperationTimeout("Get-ClusterNode did not answer in time", host=target.name) from None
    finally:
        await pool.aclose()
    result.raise_for_state()
    if result.errors:
        raise ProtocolError(f"Get-ClusterNode failed: {result.errors[0].message}", host=target.name)
    return [str(name) for name in result.output]

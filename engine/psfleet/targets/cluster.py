"""--cluster NAME: expand a failover cluster into its nodes through a hook that asks one node.

Finding the nodes needs the network (connect to a node, run Get-ClusterNode), so the
scheduler supplies that part as a `ClusterExpander`; everything else is decided here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from psfleet.errors import PsfleetError, UsageError
from psfleet.targets.formats import load_inventory
from psfleet.targets.inventory import Inventory
from psfleet.targets.model import Target
from psfleet.targets.names import UniqueNames, is_host_name
from psfleet.targets.plugin import InventoryFormat
from psfleet.targets.resolve import inventory_target
from psfleet.transport.blocking import off_loop

ClusterExpander = Callable[[Target], Awaitable[Sequence[str]]]
"""Connect to the given node, run `Get-ClusterNode | Select-Object -ExpandProperty Name`,
and return the node names. Raise a PsfleetError (ConnectError, AuthError, ...) if that
node cannot answer: the next candidate node is then tried."""


async def resolve_cluster(
    cluster: str,
    inventory_path: Path | None,
    default_port: int | None,
    expander: ClusterExpander,
    *,
    formats: Mapping[str, InventoryFormat] | None = None,
) -> list[Target]:
    """The cluster's nodes as targets (inventory vars applied to nodes the inventory knows).

    Candidates to ask: the hosts of the inventory group named `cluster` in order, else the
    inventory host of that name, else `cluster` itself as a DNS name (the cluster's name
    object). The last candidate's error is raised if none answers.
    """
    inventory = None
    if inventory_path is not None:
        path = inventory_path  # read and parsed in a thread: a disk must not stall the loop
        inventory = await off_loop(lambda: load_inventory(path, formats), name="psfleet-inventory")
    candidates = _candidates(cluster, inventory, default_port)
    if not candidates:
        raise UsageError(f"cluster group {cluster!r} has no hosts in inventory {inventory_path}")
    error: PsfleetError | None = None
    for candidate in candidates:
        try:
            nodes = await expander(candidate)
        except PsfleetError as exc:
            error = exc
            continue
        return _node_targets(cluster, nodes, inventory, default_port)
    assert error is not None  # at least one candidate was tried
    raise error


def _candidates(
    cluster: str, inventory: Inventory | None, default_port: int | None
) -> list[Target]:
    group = inventory.find_group(cluster) if inventory is not None else None
    if inventory is not None and group is not None:
        return [inventory_target(inventory, h, default_port) for h in inventory.hosts_of(group)]
    if not is_host_name(cluster):
        raise UsageError(f"cluster name {cluster!r} is not a valid host name")
    return [inventory_target(inventory, cluster, default_port)]


def _node_targets(
    cluster: str, nodes: Sequence[str], inventory: Inventory | None, default_port: int | None
) -> list[Target]:
    names = UniqueNames()
    for node in nodes:
        if not is_host_name(node):
            raise UsageError(f"cluster {cluster!r} reported an invalid node name {node!r}")
        names.add([node])
    if not names.names():
        raise UsageError(f"cluster {cluster!r} reported no nodes")
    return [inventory_target(inventory, name, default_port) for name in names.names()]

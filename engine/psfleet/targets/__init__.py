"""Targets: turn TARGETS, --inventory and --cluster into an ordered list of hosts.

Pure (no network): expressions, inventories, patterns, and the inventory plugin interface.
"""

from psfleet.targets.cluster import ClusterExpander, resolve_cluster
from psfleet.targets.expressions import expand_expressions, expand_file, read_target_file
from psfleet.targets.files import first_significant_line, read_text
from psfleet.targets.formats import inventory_formats, load_inventory
from psfleet.targets.inventory import Group, Inventory, InventoryBuilder
from psfleet.targets.model import Secret, Target, VarValue, is_secret_var
from psfleet.targets.names import MAX_HOSTS
from psfleet.targets.patterns import select_hosts
from psfleet.targets.plugin import InventoryFormat, is_inventory_format
from psfleet.targets.ranges import expand_ranges
from psfleet.targets.resolve import merge_targets, resolve_targets

__all__ = [
    "MAX_HOSTS",
    "ClusterExpander",
    "Group",
    "Inventory",
    "InventoryBuilder",
    "InventoryFormat",
    "Secret",
    "Target",
    "VarValue",
    "expand_expressions",
    "expand_file",
    "expand_ranges",
    "first_significant_line",
    "inventory_formats",
    "is_inventory_format",
    "is_secret_var",
    "load_inventory",
    "merge_targets",
    "read_target_file",
    "read_text",
    "resolve_cluster",
    "resolve_targets",
    "select_hosts",
]

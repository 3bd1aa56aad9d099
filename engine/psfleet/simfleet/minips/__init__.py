"""A small, deterministic PowerShell for simulated hosts (sans-IO).

    for item in run_script("Get-Service | Select -First 2", ctx): ...

Items are Output/Error/Warning/Verbose/Debug/Information/Progress/Sleep, then
one Finished. Values are psrpcore types, ready for ServerPipeline.write_output.
"""

from psfleet.simfleet.minips.items import (
    INPUT_PENDING,
    AwaitInput,
    Debug,
    Error,
    Finished,
    Information,
    Item,
    Output,
    Progress,
    Sleep,
    StreamItem,
    Verbose,
    Warning,
)
from psfleet.simfleet.minips.runner import (
    CommandSpec,
    is_cacheable,
    run_commands,
    run_script,
    streams_input,
)

__all__ = [
    "INPUT_PENDING",
    "AwaitInput",
    "CommandSpec",
    "Debug",
    "Error",
    "Finished",
    "Information",
    "Item",
    "Output",
    "Progress",
    "Sleep",
    "StreamItem",
    "Verbose",
    "Warning",
    "is_cacheable",
    "run_commands",
    "run_script",
    "streams_input",
]

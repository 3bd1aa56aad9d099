"""psfleet: run the same PowerShell on many Windows hosts at once over WinRM/PSRP.

Start with psfleet.run(targets, script, ...) for a fan-out, psfleet.Fleet for pools
kept open across commands, and psfleet.connect(host, ...) for one host (docs/api.md).
"""

__version__ = "0.1.0"

from psfleet import errors
from psfleet.client import ClientOptions, client_options, connect
from psfleet.errors import PsfleetError
from psfleet.events import (
    Event,
    HostDone,
    HostRetry,
    HostStarted,
    HostStatus,
    RecordEvent,
    RunSummary,
    Stream,
    TransferProgress,
)
from psfleet.fanout import (
    DaskExecutor,
    FleetResult,
    HostResult,
    LocalExecutor,
    RunOptions,
    arun,
    run,
    stream,
)
from psfleet.session import SecureString
from psfleet.transfer.api import Fleet, acopy, afetch, copy, fetch

__all__ = [
    "ClientOptions",
    "DaskExecutor",
    "Event",
    "Fleet",
    "FleetResult",
    "HostDone",
    "HostResult",
    "HostRetry",
    "HostStarted",
    "HostStatus",
    "LocalExecutor",
    "PsfleetError",
    "RecordEvent",
    "RunOptions",
    "RunSummary",
    "SecureString",
    "Stream",
    "TransferProgress",
    "acopy",
    "afetch",
    "arun",
    "client_options",
    "connect",
    "copy",
    "errors",
    "fetch",
    "run",
    "stream",
]

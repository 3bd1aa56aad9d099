"""Sessions on one host: PowerShell runspace pools and pipelines (PSRP), and the cmd shell."""

from psfleet.session.convert import PSObjectView, SecureString
from psfleet.session.pipeline import Pipeline
from psfleet.session.pool import RunspacePool
from psfleet.session.records import (
    CmdResult,
    ErrorRecord,
    InformationalRecord,
    InformationRecord,
    PipelineResult,
    PipelineState,
    ProgressRecord,
)

__all__ = [
    "CmdResult",
    "ErrorRecord",
    "InformationRecord",
    "InformationalRecord",
    "PSObjectView",
    "Pipeline",
    "PipelineResult",
    "PipelineState",
    "ProgressRecord",
    "RunspacePool",
    "SecureString",
]

"""How a fan-out runs: the client options shared by every host, plus limits and retries."""

from __future__ import annotations

from dataclasses import dataclass, field

from psfleet.client import ClientOptions
from psfleet.errors import UsageError

# PowerShell's Invoke-Command -ThrottleLimit default.
DEFAULT_THROTTLE = 32


@dataclass(frozen=True, slots=True)
class RunOptions:
    client: ClientOptions = field(default_factory=ClientOptions)
    throttle: int = DEFAULT_THROTTLE  # hosts in flight at once
    connect_rate: float | None = None  # new connections per second, None for no limit
    retries: int = 2  # further attempts for a retryable failure
    retry_started: bool = False  # the commands are idempotent: re-run even if they may have run
    host_timeout: float | None = None  # seconds for one host, all attempts included
    run_timeout: float | None = None  # seconds for the whole run
    port: int | None = None  # default port for targets that name none
    tls: bool = False  # default scheme for targets that name none
    collect: bool = True  # keep every host's records on the FleetResult
    stop_on_failed_pipeline: bool = True  # later commands are skipped after a terminating error

    def __post_init__(self) -> None:
        if self.throttle < 1:
            raise UsageError("--throttle must be at least 1")
        if self.retries < 0:
            raise UsageError("--retries cannot be negative")
        if self.connect_rate is not None and self.connect_rate <= 0:
            raise UsageError("--connect-rate must be positive")
        for name in ("host_timeout", "run_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"{name.replace('_', '-')} must be positive")

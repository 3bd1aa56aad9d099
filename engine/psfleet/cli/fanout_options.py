"""How a fan-out paces and retries: the options of every command that runs on many hosts.

    @with_option_groups(connection=ConnectionArgs, fanout=FanoutArgs)
    def copy(targets: Targets = None, *, connection: ConnectionArgs, fanout: FanoutArgs) -> None:
        options = fanout.apply(connection.run_options())

The defaults are a bare `RunOptions()`'s. `psfleet bench` keeps its own --throttle and
--timeout: a probe's, with their own help (and a 60 s probe timeout).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import typer

from psfleet.fanout.options import RunOptions

_ENGINE = RunOptions()


@dataclass(frozen=True, slots=True)
class FanoutArgs:
    throttle: Annotated[
        int, typer.Option(min=1, help="Hosts in flight at once (Invoke-Command's ThrottleLimit).")
    ] = _ENGINE.throttle
    connect_rate: Annotated[
        float | None, typer.Option(min=0.001, help="New connections per second at most.")
    ] = _ENGINE.connect_rate
    retries: Annotated[
        int, typer.Option(min=0, help="Retries of a retryable failure before any command ran.")
    ] = _ENGINE.retries
    retry_started: Annotated[
        bool,
        typer.Option(help="The commands are idempotent: retry even after they may have started."),
    ] = _ENGINE.retry_started
    timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds per host, retries included.")
    ] = _ENGINE.host_timeout
    run_timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds for the whole run.")
    ] = _ENGINE.run_timeout

    def apply(self, options: RunOptions) -> RunOptions:
        """`options` paced and retried as these values say."""
        return dataclasses.replace(
            options,
            throttle=self.throttle,
            connect_rate=self.connect_rate,
            retries=self.retries,
            retry_started=self.retry_started,
            host_timeout=self.timeout,
            run_timeout=self.run_timeout,
        )

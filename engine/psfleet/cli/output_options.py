"""Where a fan-out's events go: the options `run`, `copy`, `fetch` and `receive` share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

JsonOutput = Annotated[
    bool, typer.Option("--json", help="JSON Lines events on stdout instead of the console.")
]
OutputDir = Annotated[
    Path | None, typer.Option(help="Write per-host output, errors and result.json here.")
]
LogJson = Annotated[
    Path | None, typer.Option(help="Write the run's log events (JSON lines) to this file.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print the summary only.")]

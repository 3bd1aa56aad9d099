"""The run store's options: where it is, whether and how much a run records, --rerun.

@with_option_groups(store=StoreArgs)
def run(..., store: StoreArgs) -> None: ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from psfleet.errors import UsageError
from psfleet.store import DEFAULT_KEEP_OUTPUT, ENV_STATE_DIR, SELECTIONS

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

StateDir = Annotated[
    Path | None,
    typer.Option(
        help=f"Where the run store is (default: ${ENV_STATE_DIR}, else ~/.local/state/psfleet)."
    ),
]


@dataclass(frozen=True, slots=True)
class StoreArgs:
    state_dir: StateDir = None
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record this run in the run store.")
    ] = False
    keep_output: Annotated[
        str,
        typer.Option(
            metavar="SIZE",
            help="Output recorded per host, e.g. 1MiB, 200k, 0 for none (K = 1024).",
        ),
    ] = str(DEFAULT_KEEP_OUTPUT)
    rerun: Annotated[
        str | None,
        typer.Option(
            metavar="RUN:SELECT",
            help=(
                "Take the hosts of a recorded run (an id or `last`) that SELECT names: "
                f"{', '.join(SELECTIONS)}. No -c: its command(s) again."
            ),
        ),
    ] = None

    def keep_output_bytes(self) -> int:
        return parse_size(self.keep_output, "--keep-output")


def parse_size(text: str, option: str) -> int:
    """`1MiB`, `512k`, `1048576`, `0`: bytes (K, M, G are powers of 1024)."""
    match = _SIZE.match(text)
    if match is None:
        raise UsageError(f"{option} takes a size such as 1MiB, 200k or 0, not {text!r}")
    unit = match.group(2).lower() if match.group(2) else None
    return int(float(match.group(1)) * _UNITS[unit])


def parse_age(text: str, option: str) -> float:
    """`30d`, `12h`, `90m`, `2w`: seconds."""
    match = _AGE.match(text)
    if match is None:
        raise UsageError(f"{option} takes an age such as 30d, 12h or 2w, not {text!r}")
    return float(match.group(1)) * _SECONDS[match.group(2).lower()]

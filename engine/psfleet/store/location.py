"""Where the run store lives: --state-dir, else $PSFLEET_STATE_DIR, else the XDG state dir."""

from __future__ import annotations

import os
from pathlib import Path

ENV_STATE_DIR = "PSFLEET_STATE_DIR"
DB_NAME = "runs.db"


def state_dir(override: Path | None = None) -> Path:
    """The directory of the run store (not created here)."""
    if override is not None:
        return override
    given = os.environ.get(ENV_STATE_DIR)
    if given:
        return Path(given)
    # XDG Base Directory: $XDG_STATE_HOME, default ~/.local/state ("data that should
    # persist between restarts but is not important enough for $XDG_DATA_HOME": history).
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "psfleet"


def db_path(override: Path | None = None) -> Path:
    return state_dir(override) / DB_NAME

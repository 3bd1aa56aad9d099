"""Reading target and inventory files with errors a user can act on."""

from __future__ import annotations

from pathlib import Path

from psfleet.errors import UsageError


def read_text(path: Path, what: str) -> str:
    """The file's text, or a UsageError naming `what` it was meant to be and why it failed."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text: {exc.reason}") from exc


def first_significant_line(path: Path) -> str | None:
    """The first line that is not blank or a comment (None if unreadable), for can_load()."""
    try:
        with path.open(encoding="utf-8-sig") as stream:
            for raw in stream:
                line = raw.strip()
                if line and line[0] not in "#;":
                    return line
    except (OSError, UnicodeDecodeError):
        return None
    return None

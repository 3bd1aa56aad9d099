"""psfleet's structlog setup: quiet as a library, JSON lines to a file for `--log-json`.

Events name hosts, attempts, error types and timings; they never carry credentials
(Credential and Secret hide their values in repr, and no password is ever bound).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import structlog

_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def configure_library_default() -> None:
    """Route psfleet's events to stdlib logging (silent unless the application enables it)."""
    if structlog.is_configured():
        return
    structlog.configure(
        processors=[
            *_PROCESSORS,
            structlog.stdlib.render_to_log_kwargs,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_json_file(path: Path, level: int = logging.INFO) -> None:
    """Write every psfleet event as one JSON object per line to path (the CLI's --log-json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("psfleet")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    structlog.configure(
        processors=[
            *_PROCESSORS,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )

"""psfleet's logging: events go to stdlib logging under `psfleet.*`; only the CLI configures.

A library must leave its host application's logging alone, so psfleet never calls
`structlog.configure()` on import: its modules take their loggers from `get_logger()`,
which carries psfleet's own processors and hands each event to the stdlib logger of the
same name. An application that configured nothing sees only warnings (stdlib's last
resort handler); one that configured structlog's `ProcessorFormatter` renders psfleet's
events its own way. The `psfleet` command calls `configure_cli()` when it runs, and
`configure_json_file()` for `--log-json`.

Events name hosts, attempts, error types and timings; they never carry credentials
(Credential and Secret hide their values in repr, and no password is ever bound).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import structlog

# Before rendering: what every psfleet event carries, wherever it is rendered.
_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
_TO_STDLIB: list[Any] = [
    # First: an event nobody listens to costs one isEnabledFor() (one per host is common).
    structlog.stdlib.filter_by_level,
    *_PROCESSORS,
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger for psfleet's events that does not depend on structlog's global configuration."""
    return structlog.stdlib.BoundLogger(logging.getLogger(name), _TO_STDLIB, {})


def _formatter(*renderers: Any) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        foreign_pre_chain=_PROCESSORS,  # events of plugins using plain stdlib logging
    )


def configure_cli() -> None:
    """The command's logging: psfleet's warnings on stderr, one readable line each.

    The command is the application, so it may also route structlog's global loggers (those
    of plugins that call structlog.get_logger) to the same stdlib loggers.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    # A plain traceback: rich's default one prints local variables, which may hold secrets.
    console = structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )
    handler.setFormatter(_formatter(console))
    root = logging.getLogger("psfleet")
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    root.propagate = False
    structlog.configure(
        processors=_TO_STDLIB,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_json_file(path: Path, level: int = logging.INFO) -> None:
    """Write every psfleet event as one JSON object per line to path (the CLI's --log-json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(
        _formatter(structlog.processors.format_exc_info, structlog.processors.JSONRenderer())
    )
    root = logging.getLogger("psfleet")
    root.addHandler(handler)
    root.setLevel(min(level, root.level or level))
    root.propagate = False

"""Every test session records its runs in a run store of its own, never the user's."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from psfleet.store import ENV_STATE_DIR

_made: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # `psfleet run` subprocesses inherit it; a test that needs its own store sets its own.
    if ENV_STATE_DIR not in os.environ:
        _made.append(tempfile.mkdtemp(prefix="psfleet-test-state-"))
        os.environ[ENV_STATE_DIR] = _made[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _made:
        shutil.rmtree(path, ignore_errors=True)

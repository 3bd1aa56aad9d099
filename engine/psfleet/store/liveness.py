"""Is a run still being recorded? A lock file its process holds, released by the kernel.

A run that never wrote its end is `running` while its recorder holds the lock, and
`interrupted` once nobody does (the process crashed or was killed with SIGKILL): flock
locks die with their process, so no stale pid can be mistaken for a live run.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; a lock file that exists means running
    fcntl = None  # type: ignore[assignment]

LOCK_DIR = "running"


class RunLock:
    """The lock of one run being recorded; `release` when the run's end is written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # a fresh name: nobody else holds it

    def release(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)


def lock_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / LOCK_DIR / f"{run_id}.lock"


def is_held(path: Path) -> bool:
    """True while the recording process lives; False once it has ended, however it ended."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        if fcntl is None:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False
    finally:
        os.close(fd)  # closing releases the shared lock, if taken


class Claimed(Exception):
    """Another live process holds the claim."""


class Claim:
    """One process's exclusive claim on a run (a `psfleet receive` collecting it), held
    until `release` or the process's end, however it ends (flock, as RunLock)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is None:
            return  # Windows: no claim, as no liveness
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise Claimed(str(path)) from None

    def release(self) -> None:
        # The file stays: unlinking it would let a third process lock a new file of that
        # name while a second still waits on (or holds) the old one.
        os.close(self._fd)


def receive_claim_path(state_dir: Path, run_id: str) -> Path:
    return state_dir / LOCK_DIR / f"{run_id}.receive"

"""A port nothing listens on yet, for simulated fleets started as subprocesses in tests."""

from __future__ import annotations

import socket


def free_port(address: str = "127.0.0.1") -> int:
    """A port the OS considers free on address: two test runs on one machine do not collide."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
    return port

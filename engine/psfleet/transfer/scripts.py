"""The PowerShell that file transfer sends to hosts, kept as .ps1 files in the package.

Kept as files, not strings, so that a test can parse each with a real PowerShell grammar
and an administrator can read exactly what runs on their hosts.
"""

from __future__ import annotations

import functools
from importlib import resources

NAMES = ("probe", "push", "pull", "cleanup", "list")


@functools.cache
def script(name: str) -> str:
    """The text of scripts/<name>.ps1."""
    if name not in NAMES:
        raise KeyError(name)
    return resources.files(__package__).joinpath("scripts", f"{name}.ps1").read_text("utf-8")


def all_scripts() -> dict[str, str]:
    return {name: script(name) for name in NAMES}

"""Load the recorded Windows Server 2016 WinRM/PSRP exchanges kept in tests/captures."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

# tests/support/captures.py -> tests/captures: found from the tests tree, wherever it is.
_DEFAULT_DIR = Path(__file__).resolve().parents[1] / "captures" / "windows-2016"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request the client sent and the response Windows answered."""

    request: str
    response: str


def captures_dir() -> Path:
    return Path(os.environ.get("PSFLEET_CAPTURES", _DEFAULT_DIR))


def capture_names() -> list[str]:
    return sorted(p.stem for p in captures_dir().glob("*.yml"))


def load_capture(name: str) -> list[Exchange]:
    with (captures_dir() / f"{name}.yml").open(encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    return [Exchange(m["request"], m["response"]) for m in document["messages"]]

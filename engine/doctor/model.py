"""What `psfleet doctor` reports: one Check per probe, and the report of one host."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Check:
    """One probe's verdict. `remedy` says what to change, and where, when `ok` is False."""

    name: str
    ok: bool
    detail: str
    remedy: str | None = None
    ran: bool = True  # False: skipped because a check it depends on failed

    @classmethod
    def passed(cls, name: str, detail: str) -> Check:
        return cls(name, True, detail)

    @classmethod
    def failed(cls, name: str, detail: str, remedy: str | None = None) -> Check:
        return cls(name, False, detail, remedy)

    @classmethod
    def skipped(cls, name: str, cause: str) -> Check:
        return cls(name, False, f"skipped: {cause} failed", ran=False)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "remedy": self.remedy}


@dataclass(frozen=True, slots=True)
class DoctorReport:
    host: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def as_json(self) -> dict[str, Any]:
        return {"host": self.host, "checks": [check.as_json() for check in self.checks]}

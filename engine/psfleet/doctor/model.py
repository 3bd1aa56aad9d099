"""What `psfleet doctor` reports: one Check per probe, and the report of one host."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# A fact a check measured, for scripts (`--json`): a count, a name, a flag, or unknown.
Fact = str | int | bool | None


class CheckStatus(enum.StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run: a check it needs did not pass


@dataclass(frozen=True, slots=True)
class Check:
    """One probe's verdict. `remedy` says what to change, and where, when `ok` is False."""

    name: str
    ok: bool
    detail: str
    remedy: str | None = None
    ran: bool = True  # False: skipped because a check it depends on failed
    # What the check measured, by name (the kdc check: realm, elapsed_ms, verdict...).
    facts: Mapping[str, Fact] = field(default_factory=dict, compare=False)

    @classmethod
    def passed(cls, name: str, detail: str, facts: Mapping[str, Fact] | None = None) -> Check:
        return cls(name, True, detail, facts=dict(facts or {}))

    @classmethod
    def failed(
        cls,
        name: str,
        detail: str,
        remedy: str | None = None,
        facts: Mapping[str, Fact] | None = None,
    ) -> Check:
        return cls(name, False, detail, remedy, facts=dict(facts or {}))

    @classmethod
    def skipped(cls, name: str, cause: str) -> Check:
        return cls(name, False, f"skipped: {cause} failed", ran=False)

    @property
    def status(self) -> CheckStatus:
        if not self.ran:
            return CheckStatus.SKIPPED
        return CheckStatus.PASSED if self.ok else CheckStatus.FAILED

    def as_json(self) -> dict[str, Any]:
        # `ok` stays for scripts written before `status`; a skipped check has ok false.
        return {
            "name": self.name,
            "status": self.status.value,
            "ok": self.ok,
            "detail": self.detail,
            "remedy": self.remedy,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, slots=True)
class DoctorReport:
    host: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def check(self, name: str) -> Check:
        return next(check for check in self.checks if check.name == name)

    def count(self, status: CheckStatus) -> int:
        return sum(check.status is status for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"host": self.host, "checks": [check.as_json() for check in self.checks]}

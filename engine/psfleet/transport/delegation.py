"""The CredSSP allowlist: which hosts may receive the user's credentials.

The analogue of `Enable-WSManCredSSP -Role Client -DelegateComputer`: exact names or
wildcards (`*.lab.local`), matched against the host's name as the user or inventory
gives it, never against the address it resolves to.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from psfleet.errors import UsageError


class DelegationAllowlist:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(p.strip().lower() for p in patterns if p.strip())
        if not self.patterns:
            raise UsageError("the CredSSP allowlist (--delegate-to) names no host")

    def __call__(self, host: str) -> bool:
        name = host.strip().lower()
        return any(fnmatchcase(name, pattern) for pattern in self.patterns)

    def __repr__(self) -> str:
        return f"DelegationAllowlist({', '.join(self.patterns)})"

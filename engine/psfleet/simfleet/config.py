"""What a simulated fleet looks like: hosts, addresses, accounts, quotas, faults."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from psfleet.errors import UsageError

CBT_HARDENING_LEVELS = ("none", "relaxed", "strict")


_UNITS = {"": 1, "B": 1} | {
    unit + suffix: 1 << (10 * (i + 1)) for i, unit in enumerate("KMGT") for suffix in ("", "B")
}


def parse_size(text: str) -> int:
    """'500MB' -> 524288000 (binary units, as Windows counts disk space)."""
    match = re.fullmatch(r"\s*(\d+)\s*([KMGT]?B?)\s*", text.upper())
    if match is None:
        raise UsageError(f"size {text!r}: expected bytes, or a number with KB, MB, GB or TB")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True, slots=True)
class Quotas:
    """WinRM quotas of a default Windows Server host (winrm get winrm/config)."""

    max_shells_per_user: int = 30
    max_concurrent_users: int = 10
    max_processes_per_shell: int = 25
    max_envelope_size: int = 153600


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything `psfleet sim` and the in-process SimFleet take."""

    hosts: int = 4
    names: tuple[str, ...] = ()  # explicit host names; default node01..nodeNN
    cluster: str | None = None  # every host is a node of this cluster
    base_address: str = "127.1.0.1"
    port: int | None = None  # default 5985, or 5986 with tls; 0 picks a free port per host
    tls: bool = False
    rtt_ms: float = 0.0  # injected round-trip time per request
    faults: str = ""  # e.g. "refuse:5%,blackhole:2%" or "refuse:node03,node07"
    seed: int = 0
    users_file: Path | None = None
    quotas: Quotas = field(default_factory=Quotas)
    credssp_off: tuple[str, ...] = ()  # hosts where Enable-WSManCredSSP Server was not run
    allow_unencrypted: bool = False  # AllowUnencrypted: Basic and plain bodies over HTTP
    # CbtHardeningLevel over HTTPS: "strict" refuses NTLM/Kerberos handshakes that do not
    # carry the binding of the host's certificate; "relaxed" (Windows' default) and
    # "none" do not check it.
    cbt_hardening: str = "relaxed"
    domain: str = "LAB"
    dns_suffix: str = "lab.test"
    operation_timeout_cap_s: float = 60.0  # longest Receive long poll the server will hold
    idle_timeout_s: float = 7200.0  # IdleTimeOut: shells unused this long are closed
    state_dir: Path | None = None  # where certificates are written (a temp dir by default)
    # Keytab holding HTTP/<host> keys: Kerberos (and Negotiate with a ticket) is accepted.
    kerberos_keytab: Path | None = None
    # The domain's account lockout policy: bad passwords on any host count against the
    # account; at the threshold every host refuses it for the duration (0: until
    # unlocked). Threshold 0 never locks, as a default Windows domain.
    lockout_threshold: int = 0
    lockout_duration_s: float = 1800.0
    disk_quota: int | None = None  # bytes each host's simulated disk holds; None: no limit

    def __post_init__(self) -> None:
        if self.cbt_hardening not in CBT_HARDENING_LEVELS:
            levels = ", ".join(CBT_HARDENING_LEVELS)
            raise UsageError(f"cbt_hardening {self.cbt_hardening!r}: expected one of {levels}")
        if self.lockout_threshold < 0 or self.lockout_duration_s < 0:
            raise UsageError("lockout threshold and duration must not be negative")

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return 5986 if self.tls else 5985

    def client_upn(self, user: str) -> str:
        """The UPN a client certificate of `user` carries: a form Accounts.find maps back."""
        return f"{user}@{self.domain.lower()}"

    def host_names(self) -> list[str]:
        if self.names:
            return list(self.names)
        width = max(2, len(str(self.hosts)))
        return [f"node{i:0{width}d}" for i in range(1, self.hosts + 1)]

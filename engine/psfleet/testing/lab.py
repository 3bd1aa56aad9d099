"""A simulated fleet as a user's test sees it: its hosts, an inventory file, a credential.

`LabSettings` says what to simulate, the same way for a fleet in a thread of the test's
process (`SimConfig`) and for `psfleet sim` in a subprocess (its command-line options);
`SimLab` is what a test gets back, whichever way the fleet runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psfleet.simfleet.config import SimConfig
    from psfleet.testing.kdc import MitKdc

# Any address of 127.0.0.0/8 reaches this machine on Linux; every host takes a free port,
# so fleets of parallel tests (and test runs) share these addresses without colliding.
DEFAULT_BASE_ADDRESS = "127.21.0.1"
DEMO_ACCOUNT = ("LAB\\admin", "psfleet-demo")  # simfleet's account when none is given


@dataclass(frozen=True, slots=True)
class LabHost:
    name: str
    address: str
    port: int  # for a host whose fault is `refuse`, a port nothing listens on


StatsSource = Callable[[str | None], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SimLab:
    """A running simulated fleet: pass `targets`, `inventory` and `credential` to psfleet."""

    hosts: tuple[LabHost, ...]
    inventory: Path  # Ansible-style YAML: every host's address and port (and the cluster)
    username: str
    password: str = field(repr=False)
    cluster: str | None
    ca_file: Path | None  # the CA that signed the hosts' certificates, with tls=True
    _stats: StatsSource = field(repr=False, compare=False)

    @property
    def targets(self) -> list[str]:
        """Every host's inventory name, in order (node01, node02, ...)."""
        return [host.name for host in self.hosts]

    @property
    def credential(self) -> tuple[str, str]:
        """(user, password) of the first account, as psfleet.run(credential=...) takes it."""
        return self.username, self.password

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def stats(self, host: str | None = None) -> dict[str, Any]:
        """simfleet's counters: per host (`requests`, `auth_failures`, `open_shells`, ...)
        and the domain's `accounts` (bad passwords, lockouts). While the fleet runs."""
        return self._stats(host)


@dataclass(frozen=True, slots=True)
class LabSettings:
    """What to simulate. Options not listed here: start `SimFleet` or `psfleet sim` directly."""

    hosts: int = 3
    cluster: str | None = None
    faults: str = ""  # simfleet's fault spec: "refuse:node03", "blackhole:10%,slow:node02"
    seed: int = 0  # which hosts a percentage of faults picks
    accounts: Mapping[str, str] | None = field(default=None, repr=False)
    tls: bool = False
    rtt_ms: float = 0.0
    allow_unencrypted: bool = False
    lockout_threshold: int = 0
    base_address: str = DEFAULT_BASE_ADDRESS
    kdc: MitKdc | None = None  # a realm whose KDC knows the hosts: Kerberos is accepted

    def __post_init__(self) -> None:
        for name, password in (self.accounts or {}).items():
            if not name or ":" in name or "\n" in name + password or not password:
                raise ValueError(
                    "accounts: every entry is a user name (DOMAIN\\user or user, without ':') "
                    "and a non-empty password on one line"
                )
        if self.accounts is not None and not self.accounts:
            raise ValueError("accounts: give at least one, or None for the demo account")

    @property
    def credential(self) -> tuple[str, str]:
        if not self.accounts:
            return DEMO_ACCOUNT
        return next(iter(self.accounts.items()))

    def write_users_file(self, path: Path) -> Path | None:
        """The `--users` file of these accounts (owner-only), or None for the demo account."""
        if not self.accounts:
            return None
        path.touch(mode=0o600)
        lines = [f"{name}:{password}\n" for name, password in self.accounts.items()]
        path.write_text("".join(lines), encoding="utf-8")
        return path

    def sim_config(self, workdir: Path) -> SimConfig:
        from psfleet.simfleet.config import SimConfig  # noqa: PLC0415 (loads the simulator)

        return SimConfig(
            hosts=self.hosts,
            cluster=self.cluster,
            base_address=self.base_address,
            port=0,
            tls=self.tls,
            rtt_ms=self.rtt_ms,
            faults=self.faults,
            seed=self.seed,
            users_file=self.write_users_file(workdir / "users.txt"),
            allow_unencrypted=self.allow_unencrypted,
            state_dir=workdir / "state",
            kerberos_keytab=self.kdc.keytab if self.kdc is not None else None,
            lockout_threshold=self.lockout_threshold,
        )

    def sim_arguments(self, workdir: Path) -> list[str]:
        """The same fleet as `psfleet sim` options (with `--inventory` into workdir)."""
        arguments = [
            "--hosts", str(self.hosts),
            "--base-address", self.base_address,
            "--port", "0",
            "--seed", str(self.seed),
            "--rtt-ms", str(self.rtt_ms),
            "--lockout-threshold", str(self.lockout_threshold),
            "--state-dir", str(workdir / "state"),
            "--inventory", str(workdir / "inventory.yml"),
        ]  # fmt: skip
        optional = {
            "--cluster": self.cluster,
            "--faults": self.faults or None,
            "--users": self.write_users_file(workdir / "users.txt"),
            "--keytab": self.kdc.keytab if self.kdc is not None else None,
        }
        for option, value in optional.items():
            if value is not None:
                arguments += [option, str(value)]
        for flag, on in (("--tls", self.tls), ("--allow-unencrypted", self.allow_unencrypted)):
            if on:
                arguments.append(flag)
        return arguments

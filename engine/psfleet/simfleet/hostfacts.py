"""What a simulated host is: its identity and the deterministic facts scripts can see."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from psfleet.simfleet.filesystem import HostFiles

AuthName = Literal["basic", "ntlm", "negotiate", "kerberos", "credssp", "certificate"]

# (caption, version, build, update revisions) of the Windows Server releases in the mix.
_OS_RELEASES = (
    ("Microsoft Windows Server 2016 Datacenter", "Windows Server 2016 Datacenter", 14393, 2248),
    ("Microsoft Windows Server 2019 Datacenter", "Windows Server 2019 Datacenter", 17763, 1852),
    ("Microsoft Windows Server 2022 Datacenter", "Windows Server 2022 Datacenter", 20348, 2340),
)
_MEMORY_GB = (8, 16, 32, 64)
# Every host is said to have booted within the 30 days before this instant; fixing
# the origin keeps boot times identical across runs and processes.
_BOOT_EPOCH = dt.datetime(2024, 5, 1, 6, 0, 0, tzinfo=dt.UTC)

# name, display name, start type, service type, may be stopped on some hosts
_SERVICES = (
    ("BITS", "Background Intelligent Transfer Service", "Manual", "Win32ShareProcess", True),
    ("Dhcp", "DHCP Client", "Automatic", "Win32ShareProcess", False),
    ("Dnscache", "DNS Client", "Automatic", "Win32ShareProcess", False),
    ("EventLog", "Windows Event Log", "Automatic", "Win32ShareProcess", False),
    ("LanmanServer", "Server", "Automatic", "Win32ShareProcess", False),
    ("LanmanWorkstation", "Workstation", "Automatic", "Win32ShareProcess", False),
    ("MSDTC", "Distributed Transaction Coordinator", "Automatic", "Win32OwnProcess", True),
    ("Spooler", "Print Spooler", "Automatic", "Win32OwnProcess", True),
    ("W32Time", "Windows Time", "Manual", "Win32ShareProcess", True),
    ("WinRM", "Windows Remote Management (WS-Management)", "Automatic", "Win32ShareProcess", False),
    ("wuauserv", "Windows Update", "Manual", "Win32ShareProcess", True),
)
_CLUSTER_SERVICE = ("ClusSvc", "Cluster Service", "Automatic", "Win32OwnProcess", False)

# name, base working set in MB, base handle count
_PROCESSES = (
    ("System", 0, 1800),
    ("smss", 1, 53),
    ("csrss", 5, 420),
    ("wininit", 6, 160),
    ("services", 9, 380),
    ("lsass", 18, 1100),
    ("svchost", 24, 700),
    ("svchost", 41, 1500),
    ("WmiPrvSE", 12, 310),
    ("wsmprovhost", 70, 650),
    ("explorer", 55, 900),
)


def stable_hash(text: str) -> int:
    """A 64-bit hash that is the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(text.lower().encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True, slots=True)
class ServiceFact:
    name: str
    display_name: str
    status: Literal["Running", "Stopped"]
    start_type: str
    service_type: str


@dataclass(frozen=True, slots=True)
class ProcessFact:
    name: str
    pid: int
    cpu_seconds: float
    working_set: int
    handles: int


@dataclass(frozen=True, slots=True)
class HostFacts:
    """One simulated host. Matching by name is case-insensitive (short name or FQDN)."""

    name: str  # display form, e.g. "NODE01"
    inventory_name: str  # as written in the inventory, e.g. "node01"
    domain: str
    fqdn: str
    address: str
    cluster: str | None
    cluster_nodes: tuple[str, ...]
    os_caption: str
    os_product: str
    os_build: int
    os_revision: int
    memory_kb: int
    boot_time: dt.datetime
    services: tuple[ServiceFact, ...] = field(repr=False)
    processes: tuple[ProcessFact, ...] = field(repr=False)

    @property
    def os_version(self) -> str:
        return f"10.0.{self.os_build}"

    @property
    def ps_version(self) -> str:
        return f"5.1.{self.os_build}.{self.os_revision}"

    def is_named(self, name: str) -> bool:
        """True when name designates this host (short name, FQDN or address)."""
        wanted = name.strip().lower()
        return wanted in (self.inventory_name.lower(), self.fqdn.lower(), self.address)


def derive_host(
    inventory_name: str,
    address: str,
    domain: str = "LAB",
    dns_suffix: str = "lab.test",
    cluster: str | None = None,
    cluster_nodes: Iterable[str] = (),
) -> HostFacts:
    """Build a host whose facts follow from its name alone, so every run agrees."""
    seed = stable_hash(inventory_name)
    caption, product, build, revision = _OS_RELEASES[seed % len(_OS_RELEASES)]
    nodes = tuple(n.upper() for n in cluster_nodes)
    return HostFacts(
        name=inventory_name.upper(),
        inventory_name=inventory_name,
        domain=domain,
        fqdn=f"{inventory_name.lower()}.{dns_suffix}",
        address=address,
        cluster=cluster,
        cluster_nodes=nodes,
        os_caption=caption,
        os_product=product,
        os_build=build,
        os_revision=revision,
        memory_kb=_MEMORY_GB[(seed >> 8) % len(_MEMORY_GB)] * 1024 * 1024,
        boot_time=_BOOT_EPOCH - dt.timedelta(seconds=(seed >> 16) % (30 * 86400)),
        services=_services(seed, clustered=cluster is not None),
        processes=_processes(seed),
    )


def _services(seed: int, clustered: bool) -> tuple[ServiceFact, ...]:
    rows = sorted(
        (*_SERVICES, _CLUSTER_SERVICE) if clustered else _SERVICES, key=lambda r: r[0].lower()
    )
    facts = []
    for i, (name, display, start, kind, may_stop) in enumerate(rows):
        # About one host in four has a given optional service stopped.
        stopped = may_stop and (seed >> (i * 2 + 3)) % 4 == 0
        facts.append(ServiceFact(name, display, "Stopped" if stopped else "Running", start, kind))
    return tuple(facts)


def _processes(seed: int) -> tuple[ProcessFact, ...]:
    facts = []
    for i, (name, ws_mb, handles) in enumerate(_PROCESSES):
        jitter = (seed >> (i * 5)) % 32
        pid = 4 if name == "System" else 300 + ((seed >> (i * 3)) % 200) * 4 + i * 1024
        facts.append(
            ProcessFact(
                name, pid, round(jitter * 1.7 + i, 2), (ws_mb + jitter) << 20, handles + jitter
            )
        )
    return tuple(sorted(facts, key=lambda p: (p.name.lower(), p.pid)))


@dataclass(frozen=True, slots=True)
class SessionContext:
    """Who runs a script on which host, and whether their credentials can go further."""

    host: HostFacts
    user: str  # e.g. "LAB\\admin"
    auth: AuthName
    # True only for CredSSP with a delegated password or Kerberos with a forwarded TGT.
    delegable: bool
    lookup: Callable[[str], HostFacts | None]
    files: HostFiles | None = None  # the host's disk; None: a host without one


def fleet_lookup(hosts: Iterable[HostFacts]) -> Callable[[str], HostFacts | None]:
    """A SessionContext.lookup over a fixed fleet: short name, FQDN or address, any case."""
    index: dict[str, HostFacts] = {}
    for host in hosts:
        for key in (host.inventory_name.lower(), host.fqdn.lower(), host.address):
            index[key] = host
    return lambda name: index.get(name.strip().lower())

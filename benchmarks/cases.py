"""What the harness runs: cases (workload x fleet x tool) and the quick and full profiles.

A case names the simulated fleet it needs (hosts, RTT, TLS, a KDC), the workload (`cold`:
connect, authenticate, open, one command, close; `warm`: the same command again on
pools already open; `large`: a cold host whose command returns many objects) and
the tool that runs it. Cases that share a fleet run back to back on one simulator.
Kerberos cases (`kerberos`, `negotiate`) need a fleet whose hosts hold keys of a real
MIT KDC; `negotiate-no-kdc` is Negotiate where no KDC for the user's realm exists.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["cold", "warm", "large"]
Auth = Literal["ntlm", "basic-https", "kerberos", "negotiate", "negotiate-no-kdc"]
KDC_AUTHS = ("kerberos", "negotiate")  # need a KDC for the realm and HTTP/<host> keys

SMALL_SCRIPT = "Get-Service WinRM"
# A stamped case's command: the host's time, for the event latency (benchmarks.tools.latency).
STAMP_SCRIPT = "[datetime]::UtcNow"
LARGE_OBJECTS = 10_000
LARGE_SCRIPT = (
    f'1..{LARGE_OBJECTS} | ForEach-Object {{ [pscustomobject]@{{ Id = $_; Name = "item$_" }} }}'
)
PSFLEET_THROTTLE = 256  # above what the limit model asks for at 100 ms RTT (see docs)
# The simulator spends ~3 s of CPU per host building 10 000 objects: large cases need time.
_LARGE_LIMIT_S = 180.0


@dataclass(frozen=True, slots=True)
class Tool:
    """`psfleet`, or a peer with its thread count: pypsrp-256, pywinrm-32; or `dask-N`:
    psfleet on a Dask cluster of N worker processes of this machine (--executor dask)."""

    name: str
    threads: int | None = None

    @property
    def label(self) -> str:
        return self.name if self.threads is None else f"{self.name}-{self.threads}"

    @classmethod
    def parse(cls, label: str) -> Tool:
        name, _, threads = label.partition("-")
        if name not in ("psfleet", "pypsrp", "pywinrm", "dask"):
            raise ValueError(f"unknown tool {label!r}")
        if name == "psfleet":
            return cls(name)
        if not threads.isdigit():
            raise ValueError(f"{label!r}: needs a thread or worker count, e.g. {name}-32")
        return cls(name, int(threads))


@dataclass(frozen=True, slots=True)
class Fleet:
    hosts: int
    rtt_ms: float
    tls: bool = False
    kdc: bool = False  # a real MIT KDC for the fleet: hosts accept Kerberos with its keys


@dataclass(frozen=True, slots=True)
class Case:
    kind: Kind
    fleet: Fleet
    tool: Tool
    auth: Auth = "ntlm"
    time_limit_s: float = 60.0
    throttle: int | None = None  # psfleet's --throttle; None for PSFLEET_THROTTLE
    stamped: bool = False  # a cold case whose one record is the host's time (event latency)

    @property
    def script(self) -> str:
        if self.stamped:
            return STAMP_SCRIPT
        return LARGE_SCRIPT if self.kind == "large" else SMALL_SCRIPT

    @property
    def expected_objects(self) -> int:
        return LARGE_OBJECTS if self.kind == "large" else 1

    @property
    def psfleet_throttle(self) -> int:
        return self.throttle or PSFLEET_THROTTLE

    @property
    def name(self) -> str:
        auth = "" if self.auth == "ntlm" else f" {self.auth}"
        throttle = f" throttle {self.throttle}" if self.throttle else ""
        return (
            f"{self.kind} {self.fleet.hosts} hosts rtt {self.fleet.rtt_ms:g} ms{auth}"
            f" [{self.tool.label}{throttle}]"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hosts": self.fleet.hosts,
            "rtt_ms": self.fleet.rtt_ms,
            "tls": self.fleet.tls,
            "auth": self.auth,
            "tool": self.tool.label,
            "throttle": self.psfleet_throttle if self.tool.name in ("psfleet", "dask") else None,
            "threads": self.tool.threads,
            "script": self.script,
            "time_limit_s": self.time_limit_s,
        }


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    cases: list[Case]
    probes: list[Fleet]  # `psfleet bench` runs: RTT, connect, pool open, round trips
    profile_fleet: Fleet | None  # where the cold path is profiled (cProfile, throttle 1)
    profile_hosts: int = 100
    # An unrecorded cold NTLM fan-out over each fleet before its cases: a fresh simulator's
    # first pass over its hosts costs more server CPU (6.2 vs 4.3 ms a host at 1000), which
    # would otherwise weigh on whichever case comes first.
    warm_up: bool = False
    # The simulator's first address, when not the harness's: a profile that may run beside another.
    base_address: str | None = None

    def fleets(self) -> list[Fleet]:
        """Every fleet the profile needs, in first-use order: one simulator each."""
        wanted = [c.fleet for c in self.cases] + self.probes
        if self.profile_fleet is not None:
            wanted.append(self.profile_fleet)
        return list(dict.fromkeys(wanted))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cases": len(self.cases),
            "probes": [asdict(f) for f in self.probes],
            "profile_fleet": asdict(self.profile_fleet) if self.profile_fleet else None,
            "profile_hosts": self.profile_hosts,
            "warm_up": self.warm_up,
            "base_address": self.base_address,
        }


def _tools(*labels: str) -> list[Tool]:
    return [Tool.parse(label) for label in labels]


def _grid(
    kind: Kind,
    hosts: list[int],
    rtts: list[float],
    tools: list[Tool],
    limit: float,
    auth: Auth = "ntlm",
) -> list[Case]:
    tls, kdc = auth == "basic-https", auth in KDC_AUTHS
    return [
        Case(kind, Fleet(h, r, tls, kdc), t, auth, limit)
        for h, r, t in itertools.product(hosts, rtts, tools)
    ]


def _floor(hosts: int, limit: float) -> list[Case]:
    """psfleet one host at a time at RTT 0: its CPU per host without concurrency."""
    psfleet = Tool("psfleet")
    fleet = Fleet(hosts, 0.0)
    return [Case(k, fleet, psfleet, "ntlm", limit, throttle=1) for k in ("cold", "warm")]


def _kerberos(hosts: list[int], limit: float) -> list[Case]:
    """Cold at 20 ms with a password credential: Kerberos and Negotiate against a real KDC
    (psfleet, pypsrp-256), then NTLM and Negotiate without a KDC back to back on one fleet."""
    with_kdc = _tools("psfleet", "pypsrp-256")
    psfleet = _tools("psfleet")
    return [
        case
        for h in hosts
        for case in (
            *_grid("cold", [h], [20], with_kdc, limit, "kerberos"),
            *_grid("cold", [h], [20], psfleet, limit, "negotiate"),
            *_grid("cold", [h], [20], psfleet, limit, "ntlm"),
            *_grid("cold", [h], [20], psfleet, limit, "negotiate-no-kdc"),
        )
    ]


def quick() -> Profile:
    """Minutes on 2 cores: every comparison at 100 and 1000 hosts; slow peers are cut at 45 s."""
    limit = 45.0
    cold_tools = _tools("psfleet", "pypsrp-32", "pypsrp-256")
    cases = [
        *_grid("cold", [100, 1000], [0, 20], cold_tools, limit),
        *_grid("cold", [100], [20], _tools("pywinrm-256"), limit),
        *_grid("cold", [100], [20], _tools("psfleet", "pypsrp-256"), limit, "basic-https"),
        *_grid("warm", [1000], [20], _tools("psfleet", "pypsrp-256"), limit),
        *_grid("large", [10], [20], _tools("psfleet", "pypsrp-32"), _LARGE_LIMIT_S),
        *_floor(100, limit),
    ]
    return Profile("quick", cases, [Fleet(100, 20.0)], Fleet(100, 0.0))


def full() -> Profile:
    """Everything issue #7 lists; peers that cannot finish in the limit are recorded as such."""
    limit = 240.0
    everyone = _tools("psfleet", "pypsrp-32", "pypsrp-256", "pywinrm-32", "pywinrm-256")
    by_auth = _tools("psfleet", "pypsrp-256", "pywinrm-256")
    cases = [
        *_grid("cold", [100, 1000, 5000], [0, 20, 100], everyone, limit),
        *_grid("cold", [1000], [20], by_auth, limit, "basic-https"),
        *_grid("warm", [1000, 5000], [20], by_auth, limit),
        *_grid("large", [50], [20], _tools("psfleet", "pypsrp-32", "pywinrm-32"), 3 * limit),
        *_floor(1000, limit),
        *_kerberos([1000], limit),
    ]
    cases = list(dict.fromkeys(cases))  # the Kerberos set repeats cold NTLM at 1000 @ 20 ms
    probes = [Fleet(1000, rtt) for rtt in (0.0, 20.0, 100.0)]
    return Profile("full", cases, probes, Fleet(1000, 0.0), profile_hosts=200)


def kerberos() -> Profile:
    """Issue #11's Kerberos cases alone: 100 hosts (a smoke run: `--hosts 100`) and 1000."""
    return Profile("kerberos", _kerberos([100, 1000], 120.0), [], None, warm_up=True)


def dask() -> Profile:
    """Issue #13: cold hosts at 20 ms, local against a Dask cluster of two worker processes on
    this machine, alternated twice (the machine is shared: A/B/A/B); 1000 hosts (a reduced
    run: `--hosts 1000`) and 5000. Stamped: each host answers its time, so both report the
    event latency to the client's sink."""
    tools = _tools("psfleet", "dask-2") * 2
    cases = [
        Case("cold", Fleet(hosts, 20.0), tool, "ntlm", 240.0, throttle=64, stamped=True)
        for hosts in (1000, 5000)
        for tool in tools
    ]
    return Profile("dask", cases, [], None, warm_up=True, base_address="127.35.64.1")


PROFILES = {"quick": quick, "full": full, "kerberos": kerberos, "dask": dask}

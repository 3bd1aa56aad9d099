"""SimFleet: start a simulated fleet in this process, one listening site per host address.

async with SimFleet(SimConfig(hosts=64, cluster="CLUSTER01")) as fleet:
    ...  # fleet.hosts, fleet.stats(), fleet.ca_file, fleet.write_inventory(path)
    cert, key = fleet.issue_client_certificate("admin")  # with tls=True
    fleet.unlock_accounts()  # with lockout_threshold: a fresh domain again
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from psfleet.errors import UsageError
from psfleet.simfleet.accounts import Accounts, default_accounts, load_accounts
from psfleet.simfleet.addresses import allocate
from psfleet.simfleet.auth import AuthPolicy
from psfleet.simfleet.certs import FleetCA, HostIdentity
from psfleet.simfleet.config import SimConfig
from psfleet.simfleet.faults import FaultKind, plan_faults
from psfleet.simfleet.filesystem import HostFiles
from psfleet.simfleet.host import HostRuntime
from psfleet.simfleet.hostfacts import HostFacts, derive_host, fleet_lookup
from psfleet.simfleet.http_app import FleetApp
from psfleet.simfleet.inventory import write_inventory
from psfleet.simfleet.lockout import AccountLockout, SharedLockout
from psfleet.simfleet.service import WSManService
from psfleet.simfleet.service_keys import split_keytab
from psfleet.simfleet.stats import FleetStats
from psfleet.transport.bindings import tls_server_end_point


@dataclass(frozen=True, slots=True)
class SimHost:
    name: str
    address: str
    port: int
    facts: HostFacts
    fault: str  # the injected fault kind, "none" for a healthy host


class _Blackhole(asyncio.Protocol):
    """Accepts a connection and never answers: the client's timeouts must fire."""

    def data_received(self, data: bytes) -> None:
        return None


class SimFleet:
    def __init__(
        self,
        config: SimConfig,
        *,
        stats_cells: Any = None,
        shared_lockout: SharedLockout | None = None,
        only: range | None = None,
    ) -> None:
        self.config = config
        # Shared memory when several workers serve one fleet.
        self._stats_cells = stats_cells
        self._shared_lockout = shared_lockout
        self._only = only  # the hosts this process serves (all by default)
        self.hosts: list[SimHost] = []
        self.ca_file: Path | None = None
        self._ca: FleetCA | None = None
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.Server] = []
        self._refusers: list[socket.socket] = []  # bound, never listening: connect is refused
        self._runtimes: dict[str, HostRuntime] = {}
        self._state_dir: Path | None = None
        self._owns_state_dir = False
        self._previous_ntlm_file: str | None = None
        self._stats: FleetStats | None = None
        self._lockout: AccountLockout | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._previous_keytab: str | None = None

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> SimFleet:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        config = self.config
        names = config.host_names()
        addresses = allocate(config.base_address, len(names))
        accounts = fleet_accounts(config)
        self._lockout = AccountLockout(
            accounts,
            threshold=config.lockout_threshold,
            duration_s=config.lockout_duration_s,
            shared=self._shared_lockout,
        )
        self._prepare_state_dir(accounts)
        nodes = tuple(names) if config.cluster else ()
        facts = [
            derive_host(n, a, config.domain, config.dns_suffix, config.cluster, nodes)
            for n, a in zip(names, addresses, strict=True)
        ]
        faults = plan_faults(config.faults, names, config.seed)
        self._stats = FleetStats(names, self._stats_cells)
        port = config.effective_port
        served = [facts[i] for i in (self._only or range(len(facts)))]
        credssp_off = {h.lower() for h in config.credssp_off}
        for fact in facts:
            self.hosts.append(
                SimHost(
                    fact.inventory_name,
                    fact.address,
                    port,
                    fact,
                    faults[fact.inventory_name].kind.value,
                )
            )
        keytabs = self._split_keytab(served)
        for fact in served:
            policy = AuthPolicy(
                accounts,
                lockout=self._lockout,
                tls=config.tls,
                allow_unencrypted=config.allow_unencrypted,
                credssp=fact.inventory_name.lower() not in credssp_off,
                keytab=keytabs.get(fact.inventory_name),
            )
            runtime = HostRuntime(
                fact, port, policy, config.quotas, self._stats, faults[fact.inventory_name]
            )
            runtime.disk = self._disk_maker(runtime)
            self._runtimes[fact.address] = runtime
        loop = asyncio.get_running_loop()
        app = FleetApp(
            self._runtimes,
            WSManService(
                fleet_lookup(facts), config.operation_timeout_cap_s, config.idle_timeout_s
            ),
            self._require_stats,
            self.stats,
            rtt_s=config.rtt_ms / 1000,
            started_at=loop.time(),
        )
        self._runner = web.AppRunner(app.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        self._ca = FleetCA(self._state_path("tls")) if config.tls else None
        self.ca_file = self._ca.ca_file if self._ca else None
        for runtime in self._runtimes.values():
            await self._listen(runtime, self._ca)
        if port == 0:
            self._record_free_ports()
        self._sweeper = loop.create_task(self._close_idle_shells())

    async def _listen(self, runtime: HostRuntime, ca: FleetCA | None) -> None:
        fact = runtime.facts
        if runtime.fault.kind is FaultKind.REFUSE:
            if runtime.port == 0:  # a real port where nothing listens, not port 0
                self._refusers.append(_bound_not_listening(fact.address))
            return
        if runtime.fault.kind is FaultKind.BLACKHOLE:
            server = await asyncio.get_running_loop().create_server(
                _Blackhole, fact.address, runtime.port
            )
            self._servers.append(server)
            return
        ssl_context = (
            ca.server_context(HostIdentity(fact.inventory_name, fact.fqdn, fact.address))
            if ca
            else None
        )
        if ca is not None and self.config.cbt_hardening == "strict":
            certificate = ca.certificates[fact.inventory_name]
            runtime.policy.channel_bindings = tls_server_end_point(certificate)
        assert self._runner is not None
        site = web.TCPSite(
            self._runner, fact.address, runtime.port, ssl_context=ssl_context, backlog=512
        )
        await site.start()

    def _record_free_ports(self) -> None:
        assert self._runner is not None
        bound = {addr[0]: addr[1] for addr in self._runner.addresses}
        for server in self._servers:
            for sock in server.sockets:
                address, port = sock.getsockname()[:2]
                bound[address] = port
        for sock in self._refusers:
            address, port = sock.getsockname()[:2]
            bound[address] = port
        for i, host in enumerate(self.hosts):
            if host.address in bound:
                self.hosts[i] = SimHost(
                    host.name, host.address, bound[host.address], host.facts, host.fault
                )
                runtime = self._runtimes.get(host.address)
                if runtime is not None:
                    runtime.port = bound[host.address]

    async def _close_idle_shells(self) -> None:
        idle_s = self.config.idle_timeout_s
        while True:
            # Checked often enough that a shell lives at most 1.5 x IdleTimeOut.
            await asyncio.sleep(min(idle_s / 2, 30.0))
            for runtime in self._runtimes.values():
                runtime.close_idle(idle_s)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for runtime in self._runtimes.values():
            runtime.close_all()
        for server in self._servers:
            server.close()
        self._servers.clear()
        for sock in self._refusers:
            sock.close()
        self._refusers.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._previous_ntlm_file is not None:
            os.environ["NTLM_USER_FILE"] = self._previous_ntlm_file
        if self.config.kerberos_keytab is not None:
            _restore_env("KRB5_KTNAME", self._previous_keytab)
        if self._owns_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    # --- queries -----------------------------------------------------------------------

    def stats(self, host: str | None = None) -> dict[str, Any]:
        """The counters /stats serves: per host (all, or `host`), and the domain's `accounts`
        (whatever `host` says: accounts belong to the domain, not to a host)."""
        accounts = self._require_lockout().snapshot()
        return {**self._require_stats().snapshot(host), "accounts": accounts}

    def unlock_accounts(self) -> None:
        """Unlock every account and zero its counters, as a fresh domain (this process's)."""
        self._require_lockout().reset()

    def host(self, name: str) -> SimHost:
        for host in self.hosts:
            if host.facts.is_named(name):
                return host
        raise KeyError(name)

    def issue_client_certificate(self, user: str = "admin") -> tuple[Path, Path]:
        """A certificate (and key) every host maps to `user`, for certificate auth."""
        if self._ca is None:
            raise UsageError("client certificates need a fleet started with tls=True")
        return self._ca.issue_client(self.config.client_upn(user))

    def write_inventory(self, path: Path) -> None:
        write_inventory(path, self.hosts, cluster=self.config.cluster, tls=self.config.tls)

    # --- helpers -----------------------------------------------------------------------

    def _require_stats(self) -> FleetStats:
        if self._stats is None:
            raise RuntimeError("the fleet is not started")
        return self._stats

    def _require_lockout(self) -> AccountLockout:
        if self._lockout is None:
            raise RuntimeError("the fleet is not started")
        return self._lockout

    def _prepare_state_dir(self, accounts: Accounts) -> None:
        if self.config.state_dir is not None:
            self._state_dir = self.config.state_dir
            self._state_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._state_dir = Path(tempfile.mkdtemp(prefix="simfleet-"))
            self._owns_state_dir = True
        # pyspnego's NTLM (and CredSSP's inner NTLM) acceptor reads this file.
        self._previous_ntlm_file = os.environ.get("NTLM_USER_FILE", "")
        os.environ["NTLM_USER_FILE"] = str(accounts.write_ntlm_file(self._state_dir / "users.ntlm"))
        # MIT's acceptor finds the service keys through the process environment.
        if self.config.kerberos_keytab is not None:
            self._previous_keytab = os.environ.get("KRB5_KTNAME")
            os.environ["KRB5_KTNAME"] = f"FILE:{self.config.kerberos_keytab}"

    def _split_keytab(self, served: list[HostFacts]) -> dict[str, Path]:
        """Each served host's own keytab, cut from the shared one (see service_keys.py)."""
        if self.config.kerberos_keytab is None:
            return {}
        return split_keytab(self.config.kerberos_keytab, served, self._state_path("keytabs"))

    def _disk_maker(self, runtime: HostRuntime) -> Callable[[], HostFiles]:
        """Each host's disk is a folder of the state dir, made when a script first uses it."""

        def make() -> HostFiles:
            return HostFiles(
                self._state_path("disks") / runtime.name,
                quota=self.config.disk_quota,
                count=runtime.count_file_bytes,
            )

        return make

    def _state_path(self, name: str) -> Path:
        assert self._state_dir is not None
        return self._state_dir / name


def fleet_accounts(config: SimConfig) -> Accounts:
    """The domain's accounts: the users file, or the demo account."""
    if config.users_file is not None:
        return load_accounts(config.users_file, config.domain)
    return default_accounts(config.domain)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _bound_not_listening(address: str) -> socket.socket:
    """A TCP port held for a `refuse` host: the kernel answers a connect with RST, as a
    Windows host whose WinRM service is stopped does, and no other process can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((address, 0))
    return sock

"""Run a `LabSettings` fleet for the length of a `with` block: in a thread of this process
(quick to start, no process to spawn) or as `psfleet sim` in a subprocess (exactly what a
user starts from a shell, with its own CPU and its own environment)."""

from __future__ import annotations

import json
import os
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

import yaml

from psfleet.testing.lab import LabHost, LabSettings, SimLab, StatsSource
from psfleet.testing.sim_process import sim_process

_STATS_TIMEOUT_S = 10.0


@contextmanager
def lab_in_thread(settings: LabSettings, workdir: Path) -> Iterator[SimLab]:
    """A SimFleet on its own event-loop thread: usable from sync and async tests alike."""
    from psfleet.testing.fleet_thread import fleet_in_thread  # noqa: PLC0415 (the simulator)

    config = settings.sim_config(workdir)
    if settings.kdc is not None:
        settings.kdc.add_hosts(config.host_names())
    with fleet_in_thread(config) as threaded:
        inventory = workdir / "inventory.yml"
        threaded.fleet.write_inventory(inventory)
        hosts = _hosts_of(inventory)
        yield _lab(settings, hosts, inventory, threaded.fleet.ca_file, threaded.stats)


@contextmanager
def lab_as_process(settings: LabSettings, workdir: Path) -> Iterator[SimLab]:
    """`psfleet sim` with these settings, stopped (SIGTERM) when the block ends."""
    env = None
    if settings.kdc is not None:
        settings.kdc.add_hosts(settings.sim_config(workdir).host_names())
        env = {**os.environ, **settings.kdc.env}
    with sim_process(*settings.sim_arguments(workdir), env=env) as sim:
        inventory = workdir / "inventory.yml"
        hosts = _hosts_of(inventory)
        ca = sim.fields.get("ca")
        ca_file = Path(ca) if ca else None
        stats = _HttpStats(hosts, ca_file)
        yield _lab(settings, hosts, inventory, ca_file, stats)


def _lab(
    settings: LabSettings,
    hosts: tuple[LabHost, ...],
    inventory: Path,
    ca_file: Path | None,
    stats: StatsSource,
) -> SimLab:
    user, password = settings.credential
    return SimLab(hosts, inventory, user, password, settings.cluster, ca_file, stats)


def _hosts_of(inventory: Path) -> tuple[LabHost, ...]:
    """The fleet's hosts as its inventory lists them (a `refuse` host too: simfleet holds a
    port for it where nothing listens)."""
    document = yaml.safe_load(inventory.read_text(encoding="utf-8"))
    return tuple(
        LabHost(name, entry["ansible_host"], entry["ansible_port"])
        for name, entry in document["all"]["hosts"].items()
    )


class _HttpStats:
    """simfleet's `/stats`, which any listening host serves for the whole fleet."""

    def __init__(self, hosts: tuple[LabHost, ...], ca_file: Path | None) -> None:
        self._hosts = hosts
        self._tls = ssl.create_default_context(cafile=ca_file) if ca_file else None
        # Loopback: never through the HTTP(S)_PROXY of the environment.
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
        if self._tls is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self._tls))
        self._opener = urllib.request.build_opener(*handlers)

    def __call__(self, host: str | None) -> dict[str, Any]:
        query = f"?host={host}" if host else ""
        scheme = "https" if self._tls else "http"
        failures = []
        # A host given a fault (blackhole, http500, ...) may not answer: ask the next one.
        for peer in self._hosts:
            url = f"{scheme}://{peer.address}:{peer.port}/stats{query}"
            try:
                with self._opener.open(url, timeout=_STATS_TIMEOUT_S) as response:
                    answer: dict[str, Any] = json.load(response)
                    return answer
            except HTTPError as exc:
                if exc.code == 404 and host is not None:
                    raise KeyError(host) from None
                failures.append(f"{peer.name}: {exc}")
            except (URLError, OSError, ValueError) as exc:
                failures.append(f"{peer.name}: {exc}")
        raise RuntimeError("no simulated host answered /stats: " + "; ".join(failures))

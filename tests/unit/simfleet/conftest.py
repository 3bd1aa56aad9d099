"""Fixtures for the simulated hosts' language tests: a three-host fleet with a cluster."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from psfleet.simfleet.hostfacts import HostFacts, SessionContext, derive_host, fleet_lookup
from psfleet.simfleet.minips import Error, Finished, Item, Output, run_script


@dataclass
class Result:
    """All items of one run, split by kind."""

    items: list[Item]

    @property
    def outputs(self) -> list[Any]:
        return [i.value for i in self.items if isinstance(i, Output)]

    @property
    def errors(self) -> list[Any]:
        return [i.record for i in self.items if isinstance(i, Error)]

    @property
    def finished(self) -> Finished:
        last = self.items[-1]
        assert isinstance(last, Finished)
        return last

    def of(self, kind: type) -> list[Any]:
        return [i for i in self.items if isinstance(i, kind)]


Run = Callable[..., Result]


@pytest.fixture(scope="session")
def fleet() -> list[HostFacts]:
    nodes = ("node01", "node02")
    hosts = [
        derive_host(name, f"127.0.1.{i + 1}", cluster="CLUSTER1", cluster_nodes=nodes)
        for i, name in enumerate(nodes)
    ]
    hosts.append(derive_host("web03", "127.0.1.3"))
    return hosts


@pytest.fixture
def session(fleet: list[HostFacts]) -> Callable[..., SessionContext]:
    """session(delegable=False, host=0): a session on one host of the fleet."""

    def _session(delegable: bool = False, host: int = 0) -> SessionContext:
        auth = "credssp" if delegable else "ntlm"
        return SessionContext(fleet[host], "LAB\\admin", auth, delegable, fleet_lookup(fleet))

    return _session


@pytest.fixture
def ctx(session: Callable[..., SessionContext]) -> SessionContext:
    return session()


@pytest.fixture
def run(ctx: SessionContext) -> Run:
    """run(script, context=None, **run_script kwargs) -> Result (NTLM on node01 by default)."""

    def _run(script: str, context: SessionContext | None = None, **kwargs: Any) -> Result:
        return Result(list(run_script(script, context or ctx, **kwargs)))

    return _run

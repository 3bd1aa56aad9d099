"""psfleet bench with the default auth (negotiate) on a machine with no KDC for LAB.

Every host's probe must share the run's credential broker: with one broker per host,
each host asked krb5 for a KDC of LAB itself, and a dozen such lookups at once wait out
the resolver here (5 s each), which `connect + auth` then reported as the host's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import pytest

from psfleet.bench import ProbePlan, bench_fleet
from psfleet.fanout.api import build_options
from psfleet.targets.model import Target
from psfleet.targets.resolve import resolve_targets
from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port

HOSTS = 12
ADDRESS = "127.7.2.1"


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Target]]:
    inventory = tmp_path_factory.mktemp("bench-negotiate") / "inventory.yml"
    with sim_process(
        "--hosts", str(HOSTS), "--base-address", ADDRESS, "--port", str(free_port(ADDRESS)),
        "--inventory", str(inventory),
    ):  # fmt: skip
        yield resolve_targets(["all"], inventory)


def test_every_probe_shares_one_kdc_lookup(
    targets: list[Target], caplog: pytest.LogCaptureFixture
) -> None:
    options = build_options(None, {"credential": ("LAB\\admin", "psfleet-demo")})
    assert options.client.auth.method.value == "negotiate"  # the default, as a user runs it
    plan = ProbePlan(commands=1, unloaded_hosts=0)
    caplog.set_level(logging.INFO, logger="psfleet")
    bench = anyio.run(bench_fleet, targets, options, plan)
    assert [p.status.value for p in bench.probes] == ["ok"] * HOSTS
    fallbacks = [r for r in caplog.records if "negotiate uses NTLM" in str(r.msg)]
    assert len(fallbacks) == 1, fallbacks

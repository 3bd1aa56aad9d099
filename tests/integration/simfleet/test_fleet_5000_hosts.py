"""5000 hosts start in one process within the fd limit, and serve a thread pool of pypsrp clients.

The fleet runs on its own event loop thread of this process; 300 hosts spread over the
whole address range each run one command through unmodified pypsrp (NTLM, encryption).
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
from pypsrp.client import Client

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import fleet_in_thread

HOSTS = 5000
CLIENTS = 300
THREADS = 32


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_5000_hosts_start_and_serve_300_pypsrp_clients(
    record_property: Callable[[str, object], None],
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < HOSTS + 1000:
        pytest.skip(f"the open file limit ({hard}) is too low for {HOSTS} listening sockets")
    process = psutil.Process()
    rss_before = process.memory_info().rss
    started = time.monotonic()
    with fleet_in_thread(SimConfig(hosts=HOSTS, base_address="127.2.0.1", port=0)) as fleet:
        start_s = time.monotonic() - started
        rss_mb = (process.memory_info().rss - rss_before) / 2**20
        record_property("start_s", round(start_s, 2))
        record_property("rss_mb", round(rss_mb, 1))
        assert len(fleet.hosts) == HOSTS
        assert start_s < 60
        assert process.num_fds() < hard

        def run(index: int) -> str:
            host = fleet.hosts[index]
            client = Client(
                host.address,
                port=host.port,
                username="LAB\\admin",
                password="psfleet-demo",
                ssl=False,
                auth="ntlm",
                connection_timeout=10,
                read_timeout=30,
            )
            output, _, had_errors = client.execute_ps("$env:COMPUTERNAME")
            assert not had_errors
            return str(output)

        chosen = [i * (HOSTS // CLIENTS) for i in range(CLIENTS)]
        with ThreadPoolExecutor(THREADS) as pool:
            outputs = list(pool.map(run, chosen))
        assert outputs == [fleet.hosts[i].name.upper() for i in chosen]
        stats = fleet.stats()
        assert stats["shells_open"] == 0
        assert stats["shells_opened"] == stats["executions"] == CLIENTS
        assert stats["auth_failures"] == stats["faults"] == 0

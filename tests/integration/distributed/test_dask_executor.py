"""The fan-out on a LocalCluster of two worker processes, against simulated fleets."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import cloudpickle
import pytest

import psfleet
from psfleet import eventloop
from psfleet.errors import UsageError
from psfleet.events import HostDone, HostStarted, HostStatus, RecordEvent, RunSummary
from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.targets.model import Target
from psfleet.testing.fleet_thread import ThreadedFleet
from psfleet.transport.options import Timeouts

FAST = Timeouts(connect=2.0, request=2.0, operation=5.0, close=2.0)
NO_PASSWORD_CLUSTER = "127.42.0.1"  # a cluster of its own, its worker with no password
FAULTS = "refuse:4%,blackhole:2%,drop:3%,authfail:3%,http500:2%,delay:4%@50ms,flap:2%@1"

Fleet = Callable[..., ThreadedFleet]


class Recorder:
    """A sink that notes when each event arrived."""

    def __init__(self, on_event: Callable[[object], None] | None = None) -> None:
        self.events: list[tuple[float, object]] = []
        self._on_event = on_event

    async def handle(self, event: object) -> None:
        self.events.append((time.monotonic(), event))
        if self._on_event is not None:
            self._on_event(event)

    def of(self, kind: type) -> list[Any]:
        return [e for _, e in self.events if isinstance(e, kind)]


def targets_of(fleet: ThreadedFleet) -> list[Target]:
    return [Target(h.name, h.address, h.port) for h in fleet.hosts]


def settings(**overrides: Any) -> dict[str, Any]:
    """NTLM as LAB\\admin; the password given here must never reach the cluster."""
    return {
        "auth": "ntlm",
        "credential": ("LAB\\admin", DEFAULT_PASSWORD),
        "timeouts": FAST,
        "throttle": 32,
        **overrides,
    }


@pytest.mark.parametrize("hosts", [400, pytest.param(2000, marks=pytest.mark.slow)])
def test_statuses_are_those_of_a_local_run(dask_client: Any, fleet: Fleet, hosts: int) -> None:
    lab = fleet(hosts=hosts, faults=FAULTS, seed=11)
    targets = targets_of(lab)
    recorder = Recorder()
    on_dask = psfleet.run(
        targets,
        "hostname",
        sinks=[recorder],
        executor=psfleet.DaskExecutor(dask_client),
        **settings(retries=3, host_timeout=8.0),
    )
    local = psfleet.run(targets, "hostname", **settings(retries=3, host_timeout=8.0))

    assert {h.host: h.status for h in on_dask} == {h.host: h.status for h in local}
    assert Counter(h.status for h in on_dask)[HostStatus.OK] > hosts * 3 // 4
    done = recorder.of(HostDone)
    assert sorted(d.host for d in done) == sorted(t.name for t in targets)  # each once
    workers = set(dask_client.scheduler_info()["workers"])
    assert {d.worker for d in done} <= workers
    assert len({d.worker for d in done}) == 2  # both workers took chunks
    assert all(r.worker in workers for r in recorder.of(RecordEvent))
    first = targets[0].name
    assert on_dask[first].output == local[first].output == [first.upper()]
    summary = recorder.events[-1][1]
    assert isinstance(summary, RunSummary)
    assert summary.counts == local.counts
    assert lab.stats()["shells_open"] == 0


def test_events_reach_the_sinks_while_the_run_goes_on(dask_client: Any, fleet: Fleet) -> None:
    lab = fleet(hosts=60)
    slow = "if ($env:COMPUTERNAME -eq 'NODE60') { Start-Sleep -Seconds 3 }; hostname"
    recorder = Recorder()
    result = psfleet.run(
        targets_of(lab),
        slow,
        sinks=[recorder],
        executor=psfleet.DaskExecutor(dask_client, chunk_size=30),
        **settings(),
    )
    assert result.ok
    arrived = {e.host: t for t, e in recorder.events if isinstance(e, HostDone)}
    ended = recorder.events[-1][0]
    # 59 hosts end within a second; their events must not wait for node60's three.
    early = [host for host, at in arrived.items() if ended - at > 1.5]
    assert len(early) >= 50, sorted(ended - at for at in arrived.values())[:5]


def test_a_killed_worker_loses_no_host_and_repeats_none(dask_client: Any, fleet: Fleet) -> None:
    lab = fleet(hosts=300, rtt_ms=20)
    killed: dict[str, str] = {}
    stop = threading.Event()

    def kill_a_worker_mid_command() -> None:
        """Once a chunk has claimed hosts (their commands are starting), kill its worker."""
        pids = _worker_pids(dask_client)
        while not stop.wait(0.05):
            runs = dask_client.get_metadata(["psfleet"], {})
            for run in runs.values():
                for chunk, worker in run.get("began", {}).items():
                    if run.get("claims", {}).get(chunk) and worker in pids:
                        killed["worker"] = worker
                        os.kill(pids[worker], signal.SIGKILL)
                        return

    killer = threading.Thread(target=kill_a_worker_mid_command, daemon=True)
    killer.start()
    recorder = Recorder()
    try:
        # Commands that take a while: the worker dies while some are running.
        result = psfleet.run(
            targets_of(lab),
            "Start-Sleep -Seconds 2; hostname",
            sinks=[recorder],
            executor=psfleet.DaskExecutor(dask_client, chunk_size=25),
            **settings(),
        )
    finally:
        stop.set()
        killer.join()
    assert killed, "the run ended before a worker was killed"
    done = recorder.of(HostDone)
    assert sorted(d.host for d in done) == sorted(h.name for h in lab.hosts)  # once each
    assert len(recorder.of(HostStarted)) == 300
    statuses = Counter(h.status for h in result)
    assert set(statuses) <= {HostStatus.OK, HostStatus.LOST}, statuses
    assert statuses[HostStatus.LOST] >= 1
    lost = [d for d in done if d.status is HostStatus.LOST]
    assert {d.worker for d in lost} == {killed["worker"]}
    assert all(killed["worker"] in (d.error_message or "") for d in lost)
    executions = {name: host["executions"] for name, host in lab.stats()["hosts"].items()}
    assert all(executions[h.host] == 1 for h in result if h.ok)  # run again only if never run
    assert all(count <= 1 for count in executions.values())


def test_no_password_in_the_tasks_the_scheduler_or_its_logs(
    dask_client: Any, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = fleet(hosts=40)
    submitted: list[bytes] = []
    real_submit = dask_client.submit

    def keep_pickled(func: Any, *args: Any, **kwargs: Any) -> Any:
        submitted.append(cloudpickle.dumps((func, args, kwargs)))
        submitted.append(pickle.dumps(args))
        return real_submit(func, *args, **kwargs)

    monkeypatch.setattr(dask_client, "submit", keep_pickled)
    result = psfleet.run(
        targets_of(lab), "hostname", executor=psfleet.DaskExecutor(dask_client), **settings()
    )
    assert result.ok  # the workers authenticated with the password of their own environment
    assert submitted
    secret = DEFAULT_PASSWORD.encode()
    forms = [secret, DEFAULT_PASSWORD.encode("utf-16-le")]
    assert not [blob for blob in submitted for form in forms if form in blob]
    seen = repr(dask_client.get_scheduler_logs(n=10000)) + repr(dask_client.get_worker_logs())
    seen += repr(dask_client.run_on_scheduler(_scheduler_metadata)) + repr(dask_client.get_events())
    assert DEFAULT_PASSWORD not in seen


def _scheduler_metadata(dask_scheduler: Any) -> str:
    return repr(dask_scheduler.task_metadata)


def _worker_pids(client: Any) -> dict[str, int]:
    pids: dict[str, int] = client.run(os.getpid)
    return pids


def test_stream_yields_the_run_s_events_from_the_cluster(dask_client: Any, fleet: Fleet) -> None:
    lab = fleet(hosts=12)

    async def collect() -> list[object]:
        events = psfleet.stream(
            targets_of(lab), "hostname", executor=psfleet.DaskExecutor(dask_client), **settings()
        )
        async with contextlib.aclosing(events) as stream:
            return [event async for event in stream]

    events = eventloop.run(collect)
    done = [e for e in events if isinstance(e, HostDone)]
    assert sorted(d.host for d in done) == sorted(h.name for h in lab.hosts)
    assert all(d.status is HostStatus.OK and d.worker for d in done)
    assert isinstance(events[-1], RunSummary)


def test_credssp_hosts_outside_the_allowlist_never_reach_the_cluster(
    dask_client: Any, fleet: Fleet
) -> None:
    lab = fleet(hosts=4)
    recorder = Recorder()
    result = psfleet.run(
        targets_of(lab),
        "hostname",
        sinks=[recorder],
        executor=psfleet.DaskExecutor(dask_client),
        **settings(auth="credssp", delegate_to=["node01", "node02"]),
    )
    assert {h.host: h.status for h in result} == {
        "node01": HostStatus.OK,
        "node02": HostStatus.OK,
        "node03": HostStatus.AUTH_FAILED,
        "node04": HostStatus.AUTH_FAILED,
    }
    refused = {d.host: d for d in recorder.of(HostDone) if d.status is HostStatus.AUTH_FAILED}
    assert all(d.error_type == "DelegationRefused" for d in refused.values())
    assert all("nothing was sent" in str(d.error_message) for d in refused.values())
    assert all(d.worker is None for d in refused.values())  # decided here, not on a worker
    assert not {e.host for e in recorder.of(HostStarted)} & set(refused)
    assert all(lab.stats(name)["hosts"][name]["requests"] == 0 for name in refused)


def test_a_worker_without_the_password_stops_the_run_before_any_host(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked on every worker before anything runs: a usage error naming the worker, not
    every host of its chunks failing one by one."""
    lab = fleet(hosts=6)
    monkeypatch.delenv("PSFLEET_PASSWORD", raising=False)  # the workers inherit this env
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host=NO_PASSWORD_CLUSTER,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(UsageError) as raised,
    ):
        psfleet.run(
            targets_of(lab), "hostname", executor=psfleet.DaskExecutor(client), **settings()
        )
    message = str(raised.value)
    assert "no password" in message and NO_PASSWORD_CLUSTER in message
    assert DEFAULT_PASSWORD not in message
    assert all(host["requests"] == 0 for host in lab.stats()["hosts"].values())

"""The workers' psfleet log records reach the client's log file through the run's topic,
and the password never rides with them. The directory's LocalCluster of two worker
processes (conftest's `dask_client`) and a simulated fleet on 127.40.2.10."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import psfleet
from psfleet.fanout.ondask.wire import topic
from psfleet.logs import configure_json_file
from psfleet.simfleet import SimConfig
from psfleet.simfleet.accounts import DEFAULT_PASSWORD
from psfleet.targets.model import Target
from psfleet.testing.fleet_thread import fleet_in_thread
from psfleet.transport.options import Timeouts

distributed = pytest.importorskip("distributed")

FLEET_ADDRESS = "127.40.2.10"
HOSTS = 12
FAST = Timeouts(connect=2.0, request=2.0, operation=5.0, close=2.0)


@pytest.fixture
def log_json(tmp_path: Path) -> Iterator[Path]:
    """The client's --log-json file; the `psfleet` logger is restored afterwards."""
    logger = logging.getLogger("psfleet")
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    path = tmp_path / "run.log.jsonl"
    configure_json_file(path)
    yield path
    for handler in logger.handlers:
        if handler not in handlers:
            logger.removeHandler(handler)
            handler.close()
    logger.setLevel(level)
    logger.propagate = propagate


def test_worker_records_reach_the_log_file_through_the_topic_without_the_password(
    dask_client: Any, log_json: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics: list[str] = []
    real_subscribe = dask_client.subscribe_topic

    def note_topic(name: str, handler: Any) -> Any:
        topics.append(name)
        return real_subscribe(name, handler)

    monkeypatch.setattr(dask_client, "subscribe_topic", note_topic)
    config = SimConfig(base_address=FLEET_ADDRESS, port=5985, hosts=HOSTS)
    with fleet_in_thread(config) as fleet:
        targets = [Target(h.name, h.address, h.port) for h in fleet.hosts]
        result = psfleet.run(
            targets,
            "hostname",
            credential=("LAB\\admin", DEFAULT_PASSWORD),  # negotiate: no KDC for LAB, so NTLM
            timeouts=FAST,
            executor=psfleet.DaskExecutor(dask_client),
        )
    assert result.ok

    [run_topic] = [name for name in topics if name.startswith(topic(""))]
    messages = [message for _, message in dask_client.get_events(run_topic)]
    assert any(message.get("logs") for message in messages)  # the records rode the topic
    assert DEFAULT_PASSWORD not in repr(messages)

    text = log_json.read_text(encoding="utf-8")
    assert DEFAULT_PASSWORD not in text
    lines = [json.loads(line) for line in text.splitlines()]
    workers = set(dask_client.nthreads())
    host_done = [line for line in lines if line["event"] == "host done"]
    assert sorted(line["host"] for line in host_done) == sorted(t.name for t in targets)
    assert {line["worker"] for line in host_done} <= workers
    fallback = [line for line in lines if line["event"].startswith("kerberos unavailable")]
    assert fallback
    assert {line["worker"] for line in fallback} <= workers

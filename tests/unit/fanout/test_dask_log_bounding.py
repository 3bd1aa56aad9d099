"""A chunk's log records ride in its batches: bounded, without the password, replayed on the
client with the worker that logged them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from psfleet.fanout.ondask.chunk import Publisher
from psfleet.fanout.ondask.wire import ChunkSpec, decode_batch
from psfleet.fanout.ondask.worker_logs import (
    MAX_RECORDS,
    REDACTED,
    ChunkLogs,
    capturing,
    replay,
)
from psfleet.fanout.options import RunOptions
from psfleet.logs import get_logger
from psfleet.transport.options import Credential

W1 = "tcp://10.0.0.1:4001"
PASSWORD = "S3cret-pw!"
log = get_logger("psfleet.transport.credentials")


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def psfleet_logger() -> Iterator[logging.Logger]:
    """The `psfleet` logger at WARNING, as in a process nobody configured; restored after."""
    logger = logging.getLogger("psfleet")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.WARNING)
    yield logger
    logger.setLevel(level)
    logger.propagate = propagate


def _spec() -> ChunkSpec:
    return ChunkSpec("run", "c0", [], [], [], RunOptions(), None, None, 0.001, logging.INFO)


def test_a_flood_of_log_lines_keeps_one_batch_s_worth_and_counts_the_rest(
    psfleet_logger: logging.Logger,
) -> None:
    sent: list[dict[str, Any]] = []
    publisher = Publisher(sent.append, _spec(), W1, lambda: 0)
    with capturing(publisher.logs):
        for n in range(3 * MAX_RECORDS):
            log.info("retry", host=f"node{n}")
        publisher.flush()  # a batch with no event still carries the records: nothing waits
        log.info("retry", host="after")
    publisher.flush()
    first, second = (decode_batch(message) for message in sent)
    assert (first.events, len(first.logs), first.dropped_logs) == ([], MAX_RECORDS, 2 * MAX_RECORDS)
    assert [r["fields"]["host"] for r in first.logs[:2]] == ["node0", "node1"]
    assert [r["fields"]["host"] for r in second.logs] == ["after"]
    assert second.dropped_logs == 0  # the bound is per batch: the count starts again


def test_records_below_the_client_s_level_or_outside_a_chunk_stay_on_the_worker(
    psfleet_logger: logging.Logger,
) -> None:
    logs = ChunkLogs(logging.WARNING)
    log.warning("outside any chunk")
    with capturing(logs):
        log.info("below the level the client listens at")
        log.warning("shell possibly left open", host="node01")
    records, dropped = logs.take()
    assert [r["fields"]["event"] for r in records] == ["shell possibly left open"]
    assert dropped == 0


def test_capturing_lowers_the_worker_s_level_only_while_a_chunk_runs(
    psfleet_logger: logging.Logger,
) -> None:
    info, debug = ChunkLogs(logging.INFO), ChunkLogs(logging.DEBUG)
    with capturing(info):
        assert psfleet_logger.level == logging.INFO
        with capturing(debug):
            assert psfleet_logger.level == logging.DEBUG
        assert psfleet_logger.level == logging.INFO
    assert psfleet_logger.level == logging.WARNING
    assert not any(type(h).__name__ == "_Forward" for h in psfleet_logger.handlers)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_records_of_the_chunk_s_tasks_and_threads_are_its_own(
    psfleet_logger: logging.Logger,
) -> None:
    logs = ChunkLogs(logging.WARNING)

    def in_a_thread() -> None:
        log.warning("from a worker thread")

    with capturing(logs):
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, in_a_thread)
    assert [r["fields"]["event"] for r in logs.take()[0]] == ["from a worker thread"]


def test_the_worker_s_password_never_leaves_in_a_record(psfleet_logger: logging.Logger) -> None:
    logs = ChunkLogs(logging.INFO, secrets=[PASSWORD])
    with capturing(logs):
        log.warning(f"refused {PASSWORD}", error=f"bad password {PASSWORD}")
        log.warning("credential", credential=Credential("LAB\\admin", PASSWORD))
        logging.getLogger("psfleet.plugin").warning("plain stdlib %s", PASSWORD)
    records, _ = logs.take()
    assert len(records) == 3
    assert PASSWORD not in repr(records)
    assert records[0]["fields"]["event"] == f"refused {REDACTED}"
    assert records[2]["fields"]["event"] == f"plain stdlib {REDACTED}"


def test_replayed_records_reach_the_client_s_handlers_with_their_worker(
    psfleet_logger: logging.Logger,
) -> None:
    logs = ChunkLogs(logging.DEBUG)
    with capturing(logs):  # on the worker
        log.info("kerberos unavailable: negotiate uses NTLM for this run", reason="no KDC")
        log.debug("below the client's level")
    records, _ = logs.take()
    kept = Kept()  # the client's handler (--log-json), listening at INFO
    psfleet_logger.addHandler(kept)
    psfleet_logger.setLevel(logging.INFO)
    try:
        replay(W1, records, dropped=7)
    finally:
        psfleet_logger.removeHandler(kept)
    replayed, warning = kept.records
    assert replayed.name == "psfleet.transport.credentials"
    assert isinstance(replayed.msg, dict)
    assert replayed.msg["worker"] == W1
    assert replayed.msg["reason"] == "no KDC"
    assert replayed.msg["timestamp"]  # the worker's own time
    assert isinstance(warning.msg, dict)
    assert warning.levelno == logging.WARNING
    assert (warning.msg["worker"], warning.msg["dropped"]) == (W1, 7)

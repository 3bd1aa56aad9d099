"""The run store: every run recorded in a local SQLite file, to list, show and rerun.

    recorder = await RunRecorder.start(state_dir(), RunPlan(commands, hosts))
    ... pass `recorder` as a sink of the run ...
    await recorder.aclose()

See docs/runs.md.
"""

from psfleet.store.liveness import Claim, Claimed, receive_claim_path
from psfleet.store.location import ENV_STATE_DIR, db_path, state_dir
from psfleet.store.queries import (
    DISCONNECTED,
    LATEST,
    SELECTIONS,
    StoredHost,
    StoredRecord,
    StoredRun,
    find_run,
    list_runs,
    prune,
    run_hosts,
    run_records,
    select,
)
from psfleet.store.recorder import DEFAULT_KEEP_OUTPUT, PlannedHost, RunPlan, RunRecorder
from psfleet.store.schema import SCHEMA_VERSION, StoreUnavailable, open_store

__all__ = [
    "DEFAULT_KEEP_OUTPUT",
    "DISCONNECTED",
    "ENV_STATE_DIR",
    "LATEST",
    "SCHEMA_VERSION",
    "SELECTIONS",
    "Claim",
    "Claimed",
    "PlannedHost",
    "RunPlan",
    "RunRecorder",
    "StoreUnavailable",
    "StoredHost",
    "StoredRecord",
    "StoredRun",
    "db_path",
    "find_run",
    "list_runs",
    "open_store",
    "prune",
    "receive_claim_path",
    "run_hosts",
    "run_records",
    "select",
    "state_dir",
]

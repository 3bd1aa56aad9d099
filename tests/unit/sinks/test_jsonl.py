"""JsonlSink on a real run: one valid object per line, every stream, the summary last."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from psfleet_plugins.sinks.jsonl import JsonlSink

from .conftest import run_fleet

pytestmark = pytest.mark.anyio


async def test_a_run_is_json_lines_with_records_host_results_and_a_final_summary() -> None:
    out = io.StringIO()
    await run_fleet([JsonlSink(out)], hosts=2)
    lines = out.getvalue().splitlines()
    events: list[dict[str, Any]] = [json.loads(line) for line in lines]

    assert events[-1]["event"] == "summary"
    assert events[-1]["counts"]["failed"] == 2
    records = [e for e in events if e["event"] == "record" and e["host"] == "node01"]
    streams = {e["stream"] for e in records}
    assert streams == {"output", "error", "warning", "verbose", "information", "progress"}
    outputs = [e["data"] for e in records if e["stream"] == "output"]
    assert outputs[0]["type_names"][0] == "Deserialized.System.ServiceProcess.ServiceController"
    assert outputs[0]["properties"]["Status"]["to_string"] == "Running"
    assert outputs[1]["properties"] == {"Name": "x", "Size": 3}
    assert isinstance(outputs[2], str)  # Get-Date: an ISO 8601 string
    # The pipeline failed: its terminating error is the last record on the error stream.
    errors = [e["data"] for e in records if e["stream"] == "error"]
    assert [e["message"] for e in errors] == ["bad thing", "boom"]
    assert errors[1]["category_info"] == "OperationStopped: (boom:String) [], RuntimeException"
    done = next(e for e in events if e["event"] == "host_done" and e["host"] == "node01")
    assert (done["status"], done["error_type"], done["error_message"]) == (
        "failed",
        "RemoteScriptError",
        "boom",
    )


async def test_each_line_is_flushed_as_it_is_written() -> None:
    class CountingFlushes(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    out = CountingFlushes()
    await run_fleet([JsonlSink(out)], "Write-Output 1", hosts=1)
    assert out.flushes == len(out.getvalue().splitlines())


async def test_a_closed_stream_stops_the_output_not_the_run() -> None:
    out = io.StringIO()
    out.close()  # the reader went away (psfleet run --json | head -1)
    sink = JsonlSink(out)
    result = await run_fleet([sink], "Write-Output 1", hosts=2)
    assert {h.status.value for h in result.hosts.values()} == {"ok"}
    assert len(sink.failures) == 1

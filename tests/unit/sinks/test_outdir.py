"""OutputDirSink on real runs: per-host files, atomic writes, failures that stay local."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from psfleet.events import HostDone, HostStatus, RecordEvent, Stream
from psfleet_plugins.sinks.files import atomic_write, safe_name
from psfleet_plugins.sinks.outdir import OutputDirSink

from .conftest import run_fleet

pytestmark = pytest.mark.anyio


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


async def test_each_host_gets_its_output_errors_streams_and_result(tmp_path: Path) -> None:
    sink = OutputDirSink(tmp_path / "out")
    await run_fleet([sink], hosts=2)
    host = tmp_path / "out" / "node01"
    assert sorted(p.name for p in host.iterdir()) == [
        "errors.json",
        "output.json",
        "result.json",
        "streams.json",
    ]
    output = load(host / "output.json")
    assert output[0]["properties"]["Name"] == "WinRM"
    assert output[1]["properties"] == {"Name": "x", "Size": 3}
    assert [e["message"] for e in load(host / "errors.json")] == ["bad thing", "boom"]
    streams = {s["stream"] for s in load(host / "streams.json")}
    assert streams == {"warning", "verbose", "information", "progress"}
    result = load(host / "result.json")
    assert (result["status"], result["error_type"], result["output_lost"]) == (
        "failed",
        "RemoteScriptError",
        None,
    )
    summary = load(tmp_path / "out" / "summary.json")
    assert summary["counts"]["failed"] == 2
    assert summary["hosts"] == {"node01": "node01", "node02": "node02"}
    assert not list((tmp_path / "out").rglob("*.tmp"))
    assert sink.failures == []


async def test_a_host_whose_directory_cannot_be_made_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "node02").write_text("in the way\n")  # node02's directory cannot be created
    sink = OutputDirSink(out)
    result = await run_fleet([sink], "Get-Service WinRM", hosts=3)

    assert all(h.status is HostStatus.OK for h in result)
    assert [f.host for f in sink.failures] == ["node02"]
    assert "node02" in str(sink.failures[0])
    for host in ("node01", "node03"):
        assert load(out / host / "output.json")[0]["properties"]["Name"] == "WinRM"
        assert load(out / host / "result.json")["status"] == "ok"
    assert (out / "node02").read_text() == "in the way\n"
    assert load(out / "summary.json")["write_failures"] == [str(sink.failures[0])]


async def test_a_large_output_spills_to_disk_and_is_still_complete(tmp_path: Path) -> None:
    sink = OutputDirSink(tmp_path, spill_bytes=64)
    records = [RecordEvent("node01", Stream.OUTPUT, {"n": i, "pad": "x" * 20}) for i in range(200)]
    for record in records:
        await sink.handle(record)
    await sink.handle(HostDone("node01", HostStatus.OK, 1.0, 1))
    assert load(tmp_path / "node01" / "output.json") == [r.data for r in records]
    assert load(tmp_path / "node01" / "errors.json") == []


async def test_host_names_become_safe_distinct_directory_names(tmp_path: Path) -> None:
    sink = OutputDirSink(tmp_path / "out")
    for host in ("../../etc", "a/b", "a_b", "CON", "node01.lab.test"):
        await sink.handle(HostDone(host, HostStatus.OK, 0.1, 1))
    names = set(sink.host_dirs.values())
    assert len(names) == 5
    assert sink.host_dirs["a_b"] == "a_b" and sink.host_dirs["node01.lab.test"] == "node01.lab.test"
    assert all(p.parent == tmp_path / "out" for p in (tmp_path / "out").iterdir())
    assert not (tmp_path / "etc").exists()
    assert safe_name("CON").startswith("_CON")


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    atomic_write(path, {"status": "ok"})
    with pytest.raises(ValueError):  # NaN is not JSON: the write fails half-way
        atomic_write(path, {"pad": "x" * 10_000, "bad": float("nan")})
    assert load(path) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]

"""load_sink: built-in and third-party sinks by name, broken ones named with their error."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.plugin_loader import rescan_plugins
from psfleet.sinks import available_sinks, load_sink
from psfleet_plugins.sinks.console import ConsoleSink
from psfleet_plugins.sinks.jsonl import JsonlSink
from psfleet_plugins.sinks.outdir import OutputDirSink

THIRD_PARTY = """\
class CountingSink:
    def __init__(self, start=0):
        self.count = start

    async def handle(self, event):
        self.count += 1


class NotASink:
    pass
"""

ENTRY_POINTS = """\
[psfleet.plugins]
sink.counting = psfleet_test_sinks:CountingSink
sink.notasink = psfleet_test_sinks:NotASink
sink.missing = psfleet_test_no_such_module:Sink
"""


@pytest.fixture
def sink_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    dist_info = tmp_path / "psfleet_test_sinks-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: psfleet-test-sinks\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    (tmp_path / "psfleet_test_sinks.py").write_text(THIRD_PARTY, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    rescan_plugins()
    yield
    monkeypatch.undo()
    rescan_plugins()


def test_the_builtin_sinks_load_by_name(tmp_path: Path) -> None:
    sinks = available_sinks()
    assert {"console", "jsonl", "outdir"} <= set(sinks.loaded)
    assert not {"console", "jsonl", "outdir"} & set(dict(sinks.broken))
    out = io.StringIO()
    assert isinstance(load_sink("jsonl", stream=out), JsonlSink)
    assert isinstance(load_sink("console", quiet=True), ConsoleSink)
    outdir = load_sink("outdir", directory=tmp_path)
    assert isinstance(outdir, OutputDirSink) and outdir.directory == tmp_path


def test_unknown_names_and_bad_options_are_usage_errors() -> None:
    with pytest.raises(UsageError, match=r"unknown sink 'nope' \(installed sinks: .*jsonl"):
        load_sink("nope")
    with pytest.raises(UsageError, match=r"sink 'jsonl' could not be created: TypeError"):
        load_sink("jsonl", colour=True)


def test_a_third_party_sink_loads_and_broken_ones_are_named(sink_plugins: None) -> None:
    counting = load_sink("counting", start=5)
    assert type(counting).__name__ == "CountingSink"
    assert counting.count == 5  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=r"sink plugin 'notasink' is broken: .*not a plugin"):
        load_sink("notasink")
    with pytest.raises(UsageError, match=r"'missing' is broken: .*ModuleNotFoundError"):
        load_sink("missing")

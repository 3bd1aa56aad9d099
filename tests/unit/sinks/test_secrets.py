"""The run's password never reaches any sink's output, on success or on failure."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from psrpcore import types as ps
from rich.console import Console

from psfleet.events import HostDone, HostStatus, RecordEvent, Stream
from psfleet.fanout.api import Sink
from psfleet.session import PSObjectView, SecureString
from psfleet.transport import Credential
from psfleet_plugins.sinks.console import ConsoleSink
from psfleet_plugins.sinks.jsonl import JsonlSink
from psfleet_plugins.sinks.outdir import OutputDirSink

from .conftest import PASSWORD, run_fleet

pytestmark = pytest.mark.anyio

WRONG_PASSWORD = "wrong-Secret-42"


def everything_written(console_out: io.StringIO, jsonl_out: io.StringIO, directory: Path) -> str:
    files = "".join(p.read_text() for p in directory.rglob("*") if p.is_file())
    return console_out.getvalue() + jsonl_out.getvalue() + files


async def test_a_successful_and_a_rejected_run_never_show_the_password(tmp_path: Path) -> None:
    for password, expected in ((PASSWORD, HostStatus.OK), (WRONG_PASSWORD, HostStatus.AUTH_FAILED)):
        console_out, jsonl_out = io.StringIO(), io.StringIO()
        directory = tmp_path / expected
        sinks: list[Sink] = [
            ConsoleSink(Console(file=console_out, width=200)),
            JsonlSink(jsonl_out),
            OutputDirSink(directory),
        ]
        credential = Credential("LAB\\admin", password)
        result = await run_fleet(sinks, "whoami; $env:USERNAME", hosts=2, credential=credential)
        assert {h.status for h in result} == {expected}
        written = everything_written(console_out, jsonl_out, directory)
        if expected is HostStatus.OK:
            assert "lab\\admin" in written  # whoami ran: the output is there
        assert password not in written


async def test_a_secure_string_from_a_host_is_never_printed(tmp_path: Path) -> None:
    secure = SecureString(ps.PSSecureString("host-side-secret"))
    credential = PSObjectView(
        ("Deserialized.System.Management.Automation.PSCredential",),
        {"UserName": "LAB\\svc", "Password": secure},
        {},
        "System.Management.Automation.PSCredential",
    )
    console_out, jsonl_out = io.StringIO(), io.StringIO()
    sinks: list[Sink] = [
        ConsoleSink(Console(file=console_out)),
        JsonlSink(jsonl_out),
        OutputDirSink(tmp_path),
    ]
    for sink in sinks:
        await sink.handle(RecordEvent("node01", Stream.OUTPUT, credential))
        await sink.handle(RecordEvent("node01", Stream.OUTPUT, secure))
        await sink.handle(HostDone("node01", HostStatus.OK, 0.1, 1))
    written = everything_written(console_out, jsonl_out, tmp_path)
    assert "host-side-secret" not in written
    assert "Password=<SecureString>" in console_out.getvalue()
    assert '"Password":"<SecureString>"' in jsonl_out.getvalue()
    assert "<SecureString>" in (tmp_path / "node01" / "output.json").read_text()

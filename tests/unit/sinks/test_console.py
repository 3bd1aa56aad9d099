"""ConsoleSink: host-prefixed lines, colours, quiet, the live bar on a TTY only, the summary."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from psfleet.events import HostDone, HostStatus, RecordEvent, RunSummary, Stream
from psfleet_plugins.sinks.console import ConsoleSink

from .conftest import run_fleet

pytestmark = pytest.mark.anyio

DOUBLE_HOP = r"Get-ChildItem \\node02\share"


def plain_console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=200), out


async def test_each_line_carries_its_host_and_streams_read_as_in_powershell() -> None:
    console, out = plain_console()
    await run_fleet([ConsoleSink(console)], hosts=2)
    text = out.getvalue()
    assert "[node01] Name=x; Size=3" in text
    assert "[node02] WARNING: disk almost full" in text
    assert "[node01] VERBOSE: checking" in text
    assert "[node01] bad thing" in text
    assert "[node01]     + CategoryInfo          : NotSpecified: (:) [Write-Error]" in text
    assert "[node01]     + FullyQualifiedErrorId : boom" in text
    assert "[node01] failed: RemoteScriptError: boom" in text
    assert "Run complete: 2 hosts" in text
    assert "\x1b[" not in text  # not a terminal: no colours, no live bar


async def test_quiet_prints_the_summary_only() -> None:
    console, out = plain_console()
    await run_fleet([ConsoleSink(console, quiet=True)], hosts=2)
    text = out.getvalue()
    assert "[node0" not in text
    assert text.startswith("Run complete: 2 hosts")
    assert "Failures" in text and "RemoteScriptError: boom" in text


async def test_on_a_terminal_a_live_bar_counts_hosts_and_records_print_above_it() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=160)
    sink = ConsoleSink(console, total=3)
    await run_fleet([sink], "Write-Output hello; Write-Warning careful; Write-Error bad")
    text = out.getvalue()
    assert "hosts/s" in text and "running" in text and "/3" in text
    assert "\x1b[33mWARNING: careful" in text  # yellow
    assert "\x1b[31mbad" in text  # red
    assert "hello" in text
    assert text.rstrip().endswith("┘")  # the summary table is the last thing printed


async def test_quiet_on_a_terminal_has_no_bar_unless_asked() -> None:
    for show_progress, expected in ((None, False), (True, True)):
        out = io.StringIO()
        console = Console(file=out, force_terminal=True, width=160)
        await run_fleet(
            [ConsoleSink(console, quiet=True, show_progress=show_progress)], "1", hosts=1
        )
        assert ("running" in out.getvalue()) is expected


async def test_the_summary_shows_failures_with_their_remedy() -> None:
    console, out = plain_console()
    await run_fleet([ConsoleSink(console)], DOUBLE_HOP, hosts=3)
    text = out.getvalue()
    assert "double_hop_denied" in text
    assert "Remedy" in text and "Enable-WSManCredSSP" in text
    assert "Slowest hosts" in text


async def test_remote_text_cannot_inject_markup_or_terminal_escapes() -> None:
    console, out = plain_console()
    sink = ConsoleSink(console)
    hostile = "[bold red]fake[/] \x1b[2J cleared?"
    await sink.handle(RecordEvent("node\x1b]0;x", Stream.OUTPUT, hostile))
    await sink.handle(HostDone("node01", HostStatus.FAILED, 1.0, 1, "X", "line1\nline2"))
    await sink.handle(RunSummary({HostStatus.FAILED: 1}, 1.0))
    text = out.getvalue()
    assert "[bold red]fake[/]" in text
    assert "\x1b" not in text
    assert "\ufffd[2J cleared?" in text


async def test_multi_line_output_prefixes_every_line() -> None:
    console, out = plain_console()
    await ConsoleSink(console).handle(RecordEvent("node01", Stream.OUTPUT, "a\r\nb\r\n"))
    assert out.getvalue().splitlines() == ["[node01] a", "[node01] b"]


async def test_the_summary_names_hosts_where_a_shell_may_still_be_open() -> None:
    console, out = plain_console()
    sink = ConsoleSink(console, quiet=True)
    await sink.handle(
        HostDone("node07", HostStatus.PROTOCOL_ERROR, 1.0, 1, "ProtocolError", "malformed XML")
    )
    await sink.handle(
        RunSummary({HostStatus.PROTOCOL_ERROR: 1}, 1.0, shells_possibly_open=("node07",))
    )
    text = " ".join(out.getvalue().split())
    assert "protocol_error │ 1" in text
    assert "ProtocolError: malformed XML" in text
    assert "Shells possibly left open on 1 host: node07" in text


async def test_no_word_on_open_shells_when_every_shell_was_deleted() -> None:
    console, out = plain_console()
    await ConsoleSink(console, quiet=True).handle(RunSummary({HostStatus.OK: 2}, 1.0))
    assert "possibly left open" not in out.getvalue()

"""The end-of-run summary: hosts by status, the slowest hosts, failures with reason and remedy."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group
from rich.table import Table
from rich.text import Text

from psfleet.events import HostDone, HostStatus, RunSummary
from psfleet_plugins.sinks.render import clean

WITHHELD = "CredentialWithheld"  # the lockout guard's error type (psfleet.transport.credentials)
MAX_FAILURE_ROWS = 50  # beyond this the table stops helping; --json and --output-dir have all

STATUS_STYLES = {
    HostStatus.OK: "green",
    HostStatus.FAILED: "red",
    HostStatus.UNREACHABLE: "red",
    HostStatus.AUTH_FAILED: "red",
    HostStatus.TIMEOUT: "yellow",
    HostStatus.CANCELLED: "dim",
    HostStatus.DOUBLE_HOP_DENIED: "magenta",
    HostStatus.PROTOCOL_ERROR: "red",
}


def summary_group(summary: RunSummary, failures: Sequence[HostDone]) -> Group:
    parts: list[Table | Text] = [_headline(summary), _counts(summary)]
    if summary.slowest:
        parts.append(_slowest(summary))
    # Hosts the lockout guard spared share one reason and remedy: one line, not N rows.
    tried = [done for done in failures if done.error_type != WITHHELD]
    if tried:
        parts.append(_failures(tried))
    if summary.spared_by_lockout_guard:
        parts.append(_spared(summary.spared_by_lockout_guard, failures))
    if summary.shells_possibly_open:
        parts.append(_shells_possibly_open(summary.shells_possibly_open))
    return Group(*parts)


def _headline(summary: RunSummary) -> Text:
    total = sum(summary.counts.values())
    rate = total / summary.wall_s if summary.wall_s > 0 else 0.0
    outcome = (
        ("Run interrupted", "bold yellow") if summary.interrupted else ("Run complete", "bold")
    )
    return Text.assemble(outcome, f": {total} hosts in {summary.wall_s:.2f}s ({rate:.1f} hosts/s)")


def _counts(summary: RunSummary) -> Table:
    total = sum(summary.counts.values())
    table = Table()
    table.add_column("Status")
    table.add_column("Hosts", justify="right")
    for status, count in summary.counts.items():
        if count:
            table.add_row(str(status), str(count), style=STATUS_STYLES.get(status, ""))
    table.add_row("total", str(total), style="bold")
    return table


def _slowest(summary: RunSummary) -> Table:
    table = Table(title="Slowest hosts", title_justify="left")
    table.add_column("Host")
    table.add_column("Seconds", justify="right")
    for host, seconds in summary.slowest:
        table.add_row(_cell(host), f"{seconds:.2f}")
    return table


def _failures(failures: Sequence[HostDone]) -> Table:
    shown = failures[:MAX_FAILURE_ROWS]
    hidden = len(failures) - len(shown)
    table = Table(
        title="Failures",
        title_justify="left",
        caption=f"and {hidden} more (all of them are in --json and --output-dir)"
        if hidden
        else None,
    )
    table.add_column("Host")
    table.add_column("Status")
    table.add_column("Reason", overflow="fold")
    with_remedy = any(done.remedy for done in shown)
    if with_remedy:
        table.add_column("Remedy", overflow="fold")
    for done in shown:
        reason = ": ".join(part for part in (done.error_type, done.error_message) if part)
        row = [_cell(done.host), str(done.status), _cell(reason)]
        if with_remedy:
            row.append(_cell(done.remedy or ""))
        table.add_row(*row, style=STATUS_STYLES.get(done.status, ""))
    return table


def _spared(count: int, failures: Sequence[HostDone]) -> Text:
    reason = next((done.error_message for done in failures if done.error_type == WITHHELD), None)
    plural = "s" if count != 1 else ""
    return Text(
        f"{count} host{plural} not tried with the credential: {reason or 'lockout guard'} "
        "(a domain would count each try as a bad password; --max-auth-failures sets how many "
        "hosts may reject it first)",
        style="red",
    )


def _shells_possibly_open(hosts: Sequence[str]) -> Text:
    names = ", ".join(_cell(host) for host in hosts)
    return Text(
        f"Shells possibly left open on {len(hosts)} host{'s' if len(hosts) != 1 else ''}: "
        f"{names} (their Delete was not confirmed; each counts against MaxShellsPerUser "
        "until the host's idle timeout)",
        style="yellow",
    )


def _cell(text: str) -> str:
    # One paragraph per cell: rich folds it to the column width.
    return clean(" ".join(text.split()))

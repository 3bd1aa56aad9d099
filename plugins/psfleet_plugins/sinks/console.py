"""The console: host-prefixed records, a live progress bar on a TTY, a summary at the end.

The bar counts hosts; once a copy or fetch reports its first TransferProgress it becomes
a transfer bar: bytes and bytes/s across the fleet, hosts done, ETA from the bytes.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from psfleet.events import (
    Event,
    HostDone,
    HostRetry,
    HostStarted,
    HostStatus,
    RecordEvent,
    RunSummary,
    TransferProgress,
)
from psfleet_plugins.sinks.render import host_lines, record_text
from psfleet_plugins.sinks.summary import STATUS_STYLES, summary_group


class ConsoleSink:
    """Invoke-Command's console output for a fleet; `quiet` prints the summary only.

    The progress bar shows on a terminal unless quiet (`show_progress` overrides both);
    `total` is the number of target hosts, for the bar's length and its ETA.
    """

    def __init__(
        self,
        console: Console | None = None,
        *,
        quiet: bool = False,
        show_progress: bool | None = None,
        total: int | None = None,
    ) -> None:
        self.console = console if console is not None else Console(highlight=False)
        self.quiet = quiet
        wanted = show_progress if show_progress is not None else not quiet
        self._bar: _HostsBar | _TransferBar | None = (
            _HostsBar(self.console, total) if wanted and self.console.is_terminal else None
        )
        self._failures: list[HostDone] = []

    async def handle(self, event: Event) -> None:
        if isinstance(event, TransferProgress) and isinstance(self._bar, _HostsBar):
            self._bar = self._bar.as_transfer()
        if self._bar is not None:
            self._bar.update(event)
        if isinstance(event, RunSummary):
            self.close()
            self.console.print(summary_group(event, self._failures))
            return
        if isinstance(event, HostDone) and event.status is not HostStatus.OK:
            self._failures.append(event)
        if not self.quiet:
            self._print(event)

    def close(self) -> None:
        """Stop the live bar (idempotent); call it if a run ends without its summary."""
        if self._bar is not None:
            self._bar.stop()

    def _print(self, event: Event) -> None:
        if isinstance(event, RecordEvent):
            text = record_text(event)
        elif isinstance(event, HostRetry):
            retry = f"retry {event.attempt} in {event.delay_s:.1f}s: {event.error_type}"
            text = host_lines(event.host, [f"{retry}: {event.message}"], "dim")
        elif isinstance(event, HostDone) and event.status is not HostStatus.OK:
            reason = ": ".join(part for part in (event.error_type, event.error_message) if part)
            text = host_lines(
                event.host, [f"{event.status}: {reason}"], STATUS_STYLES.get(event.status, "")
            )
        else:
            text = None
        if text is not None:
            # Through the same console as the bar: rich prints above the live display.
            self.console.print(text, soft_wrap=True)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- hosts/s" if speed is None else f"{speed:.1f} hosts/s", style="blue")


class _HostCounts:
    """Hosts ok, failed and running, from HostStarted and HostDone; False for other events."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.running: set[str] = set()
        self.ok = 0
        self.failed = 0

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def count(self, event: Event) -> bool:
        if isinstance(event, HostStarted):
            self.running.add(event.host)
        elif isinstance(event, HostDone):
            self.running.discard(event.host)
            if event.status is HostStatus.OK:
                self.ok += 1
            else:
                self.failed += 1
        else:
            return False
        return True


class _HostsBar:
    """Hosts done / failed / running, rate and ETA; started at the first event."""

    def __init__(self, console: Console, total: int | None) -> None:
        self._progress = Progress(
            TextColumn("[bold]hosts"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(
                "[green]{task.fields[ok]} ok[/] [red]{task.fields[failed]} failed[/] "
                "[cyan]{task.fields[running]} running[/]"
            ),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._hosts = _HostCounts(total)
        self._task: TaskID | None = None

    def update(self, event: Event) -> None:
        if not self._hosts.count(event):
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(
                "hosts", total=self._hosts.total, ok=0, failed=0, running=0
            )
        self._progress.update(
            self._task,
            completed=self._hosts.done,
            ok=self._hosts.ok,
            failed=self._hosts.failed,
            running=len(self._hosts.running),
        )

    def as_transfer(self) -> _TransferBar:
        """The transfer bar that takes over from this one, with the hosts counted so far."""
        self.stop()
        return _TransferBar(self._progress.console, self._hosts)

    def stop(self) -> None:
        self._progress.stop()


class _TransferBar:
    """Bytes moved across the fleet, bytes/s, hosts done and the ETA of a copy or fetch.

    The fleet's total is what the hosts reported (a copy's hosts each report the file
    size; a fetch's learn theirs as they go), extrapolated to the hosts not heard from.
    """

    def __init__(self, console: Console, hosts: _HostCounts) -> None:
        self._progress = Progress(
            TextColumn("[bold]transfer"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn(
                "{task.fields[done]}/{task.fields[hosts]} hosts "
                "[red]{task.fields[failed]} failed[/]"
            ),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._hosts = hosts
        self._moved: dict[str, int] = {}
        self._sizes: dict[str, int] = {}  # per host: what it will move in all, once known
        self._progress.start()
        self._task = self._progress.add_task("transfer", total=None, done=0, hosts="?", failed=0)

    def update(self, event: Event) -> None:
        if isinstance(event, TransferProgress):
            self._moved[event.host] = event.done
            if event.total:
                self._sizes[event.host] = event.total
        elif self._hosts.count(event):
            if isinstance(event, HostDone):
                # Final: an unchanged copy moved nothing, a failed one no more than so far.
                moved = event.bytes if event.bytes is not None else self._moved.get(event.host, 0)
                self._moved[event.host] = self._sizes[event.host] = moved
        else:
            return
        self._progress.update(
            self._task,
            completed=sum(self._moved.values()),
            total=self._expected(),
            done=self._hosts.done,
            hosts=self._hosts.total if self._hosts.total is not None else "?",
            failed=self._hosts.failed,
        )

    def _expected(self) -> int | None:
        known = sum(self._sizes.values())
        if not known:
            return None
        hosts = self._hosts.total or len(self._sizes)
        unheard = max(0, hosts - len(self._sizes))
        return known + unheard * known // len(self._sizes)

    def stop(self) -> None:
        self._progress.stop()

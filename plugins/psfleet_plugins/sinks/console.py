"""The console: host-prefixed records, a live progress bar on a TTY, a summary at the end."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
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
        self._bar = _HostsBar(self.console, total) if wanted and self.console.is_terminal else None
        self._failures: list[HostDone] = []

    async def handle(self, event: Event) -> None:
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
        self._total = total
        self._task: TaskID | None = None
        self._running: set[str] = set()
        self._ok = 0
        self._failed = 0

    def update(self, event: Event) -> None:
        if isinstance(event, HostStarted):
            self._running.add(event.host)
        elif isinstance(event, HostDone):
            self._running.discard(event.host)
            if event.status is HostStatus.OK:
                self._ok += 1
            else:
                self._failed += 1
        else:
            return
        if self._task is None:
            self._progress.start()
            self._task = self._progress.add_task(
                "hosts", total=self._total, ok=0, failed=0, running=0
            )
        self._progress.update(
            self._task,
            completed=self._ok + self._failed,
            ok=self._ok,
            failed=self._failed,
            running=len(self._running),
        )

    def stop(self) -> None:
        self._progress.stop()

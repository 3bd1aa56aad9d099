"""Map minips items onto a psrpcore ServerPipeline, and read its commands.

The server calls command_specs() when a CreatePipeline arrives, feeds the specs
to minips.run_commands(), passes each item to emit() (awaiting Sleep items
itself), and ends with finish().
"""

from __future__ import annotations

from typing import Any, cast

from psrpcore import ServerPipeline
from psrpcore.types import ErrorRecord, ProgressRecordType, PSInvocationState, PSRPMessageType

from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import (
    CommandSpec,
    Debug,
    Error,
    Finished,
    Information,
    Item,
    Output,
    Progress,
    Sleep,
    Verbose,
    Warning,
)


def command_specs(pipeline: ServerPipeline) -> list[CommandSpec]:
    """The commands of the client's CreatePipeline, in order, with statement ends."""
    metadata = cast(Any, pipeline.metadata)
    return [
        CommandSpec(
            c.command_text, bool(c.is_script), tuple(c.parameters), bool(c.end_of_statement)
        )
        for c in metadata.commands
    ]


def emit(pipeline: ServerPipeline, item: Item, ctx: SessionContext | None = None) -> None:
    """Queue one item on the pipeline. Sleep is the caller's to await; Finished goes to finish()."""
    if isinstance(item, Output):
        pipeline.write_output(item.value)
    elif isinstance(item, Error):
        _write_error_record(pipeline, item.record)
    elif isinstance(item, Warning):
        pipeline.write_warning(item.message)
    elif isinstance(item, Verbose):
        pipeline.write_verbose(item.message)
    elif isinstance(item, Debug):
        pipeline.write_debug(item.message)
    elif isinstance(item, Information):
        pipeline.write_information(
            item.message_data,
            item.source,
            tags=list(item.tags),
            user=None if ctx is None else ctx.user,
            computer=None if ctx is None else ctx.host.name,
        )
    elif isinstance(item, Progress):
        pipeline.write_progress(
            item.activity,
            item.activity_id,
            item.status,
            current_operation=item.current_operation,
            parent_activity_id=item.parent_id,
            percent_complete=item.percent,
            record_type=ProgressRecordType.Completed
            if item.completed
            else ProgressRecordType.Processing,
            seconds_remaining=item.seconds_remaining,
        )
    elif isinstance(item, Finished):
        finish(pipeline, item)
    elif not isinstance(item, Sleep):
        raise TypeError(f"not a minips item: {item!r}")


def _write_error_record(pipeline: ServerPipeline, record: ErrorRecord) -> None:
    # write_error() would rebuild the record and drop the ToString minips sets to
    # match Windows, so queue the record itself, as write_error does internally.
    record.serialize_extended_info = record.InvocationInfo is not None
    pipeline.prepare_message(record, message_type=PSRPMessageType.ErrorRecord)


def finish(pipeline: ServerPipeline, finished: Finished) -> None:
    """End the pipeline: Completed, or Failed carrying the terminating error record."""
    if finished.failed and finished.error is not None:
        # psrpcore has no public "fail" call; _change_state is how its own stop()
        # attaches the ExceptionAsErrorRecord to the PipelineState message.
        change_state = cast(Any, pipeline)._change_state
        change_state(PSInvocationState.Failed, error=finished.error)
    else:
        pipeline.complete()

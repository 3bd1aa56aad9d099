"""Language-level cmdlets: the Write-* streams, pipeline shaping, sleep, iex."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from psfleet.simfleet.minips import objects, records
from psfleet.simfleet.minips.commands import Bound, cmdlet
from psfleet.simfleet.minips.evaluator import Runtime, ScriptBlock, StatementError, collect
from psfleet.simfleet.minips.formatting import out_string
from psfleet.simfleet.minips.items import Debug, Information, Progress, Sleep, Verbose, Warning
from psfleet.simfleet.minips.parser import ParseError, parse
from psfleet.simfleet.minips.values import (
    clr_name,
    compare,
    enumerate_value,
    get_member,
    is_collection,
    order_key,
    to_number,
    to_string,
)

_UTILITY = "Microsoft.PowerShell.Commands.{0}Command"
_COMPARISONS = (
    "EQ",
    "NE",
    "GT",
    "LT",
    "GE",
    "LE",
    "Like",
    "NotLike",
    "Match",
    "NotMatch",
    "Contains",
    "NotContains",
    "In",
    "NotIn",
    "CEQ",
    "CNE",
)
_CONSOLE_COLORS = (
    "Black", "DarkBlue", "DarkGreen", "DarkCyan", "DarkRed", "DarkMagenta", "DarkYellow", "Gray",
    "DarkGray", "Blue", "Green", "Cyan", "Red", "Magenta", "Yellow", "White",
)  # fmt: skip


def _message(bound: Bound, param: str, inputs: Iterator[Any]) -> str:
    if bound.has(param):
        return to_string(bound.get(param))
    return to_string(collect(inputs))


@cmdlet(
    "Write-Output",
    _UTILITY.format("WriteOutput"),
    params=("InputObject",),
    switches=("NoEnumerate",),
    positional=("InputObject",),
    aliases=("echo", "write"),
)
def write_output(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if bound.has("InputObject"):
        value = bound.get("InputObject")
        yield from [value] if bound.has("NoEnumerate") else enumerate_value(value)
    else:
        yield from inputs


@cmdlet("Write-Error", _UTILITY.format("WriteError"), params=("Message",), positional=("Message",))
def write_error(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    rt.write_error(
        records.write_error(_message(bound, "Message", inputs), rt.where(bound.pos, bound.name)),
        bound,
    )
    yield from ()


@cmdlet(
    "Write-Warning", _UTILITY.format("WriteWarning"), params=("Message",), positional=("Message",)
)
def write_warning(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if rt.preference("WarningPreference", bound, "WarningAction") not in (
        "silentlycontinue",
        "ignore",
    ):
        rt.pending.append(Warning(_message(bound, "Message", inputs)))
    yield from ()


@cmdlet(
    "Write-Verbose", _UTILITY.format("WriteVerbose"), params=("Message",), positional=("Message",)
)
def write_verbose(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if bound.get("Verbose") or rt.preference("VerbosePreference") not in (
        "silentlycontinue",
        "ignore",
    ):
        rt.pending.append(Verbose(_message(bound, "Message", inputs)))
    yield from ()


@cmdlet("Write-Debug", _UTILITY.format("WriteDebug"), params=("Message",), positional=("Message",))
def write_debug(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    if bound.get("Debug") or rt.preference("DebugPreference") not in ("silentlycontinue", "ignore"):
        rt.pending.append(Debug(_message(bound, "Message", inputs)))
    yield from ()


# Information records carry TimeGenerated, so these are not pure.
@cmdlet(
    "Write-Information",
    _UTILITY.format("WriteInformation"),
    params=("MessageData", "Tags"),
    positional=("MessageData", "Tags"),
    pure=False,
)
def write_information(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    data = bound.get("MessageData") if bound.has("MessageData") else collect(inputs)
    tags = (
        tuple(to_string(t) for t in enumerate_value(bound.get("Tags"))) if bound.has("Tags") else ()
    )
    rt.pending.append(Information(data, "Write-Information", tags))
    yield from ()


@cmdlet(
    "Write-Host",
    _UTILITY.format("WriteHost"),
    params=("Object", "ForegroundColor", "BackgroundColor", "Separator"),
    switches=("NoNewline",),
    positional=("Object",),
    remaining="Object",
    pure=False,
)
def write_host(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    # One record per pipeline input object, written as each arrives; without input
    # (nor -Object) an empty line.
    idle = True
    for value in [bound.get("Object")] if bound.has("Object") else inputs:
        idle = False
        _write_host(rt, bound, value)
    if idle:
        _write_host(rt, bound, None)
    yield from ()


def _write_host(rt: Runtime, bound: Bound, value: Any) -> None:
    # PowerShell 5 sends Write-Host text on the information stream, tagged PSHOST,
    # as a HostInformationMessage.
    separator = bound.get("Separator", " ")
    text = _host_text(value, "" if separator is None else to_string(separator))
    message = objects.host_information_message(
        text,
        bool(bound.get("NoNewline")),
        _console_color(bound.get("ForegroundColor")),
        _console_color(bound.get("BackgroundColor")),
    )
    rt.pending.append(Information(message, "Write-Host", ("PSHOST",)))


def _host_text(value: Any, separator: str) -> str:
    """Write-Host's text: collections unrolled (nested ones too), joined by the separator."""
    if is_collection(value):
        return separator.join(_host_text(v, separator) for v in value)
    return to_string(value)


def _console_color(value: Any) -> str | None:
    if value is None:
        return None
    text = to_string(value)
    return next((c for c in _CONSOLE_COLORS if c.lower() == text.lower()), text)


@cmdlet(
    "Set-Variable",
    _UTILITY.format("SetVariable"),
    params=("Name", "Value", "Scope"),
    positional=("Name", "Value"),
    aliases=("set", "sv"),
)
def set_variable(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    # -Scope is accepted and has no effect: a minips run has one scope.
    if not bound.has("Name"):
        raise StatementError(
            records.missing_mandatory(
                bound.name, _UTILITY.format("SetVariable"), "Name", rt.where(bound.pos, bound.name)
            )
        )
    # Without -Value the pipeline input is the value, all of it.
    value = bound.get("Value") if bound.has("Value") else collect(inputs)
    for name in enumerate_value(bound.get("Name")):
        rt.vars[to_string(name).lower()] = value
    yield from ()


@cmdlet(
    "Write-Progress",
    _UTILITY.format("WriteProgress"),
    params=(
        "Activity",
        "Status",
        "PercentComplete",
        "Id",
        "ParentId",
        "CurrentOperation",
        "SecondsRemaining",
    ),
    switches=("Completed",),
    positional=("Activity", "Status"),
)
def write_progress(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    rt.pending.append(
        Progress(
            activity=to_string(bound.get("Activity")),
            status=to_string(bound.get("Status", "Processing")),
            percent=int(to_number(bound.get("PercentComplete", -1))),
            activity_id=int(to_number(bound.get("Id", 0))),
            parent_id=int(to_number(bound.get("ParentId", -1))),
            current_operation=bound.get("CurrentOperation"),
            seconds_remaining=int(to_number(bound.get("SecondsRemaining", -1))),
            completed=bool(bound.get("Completed")),
        )
    )
    yield from ()


@cmdlet(
    "Start-Sleep",
    _UTILITY.format("StartSleep"),
    params=("Seconds", "Milliseconds"),
    positional=("Seconds",),
    pure=False,
    aliases=("sleep",),
)
def start_sleep(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    seconds = (
        float(to_number(bound.get("Seconds", 0)))
        + float(to_number(bound.get("Milliseconds", 0))) / 1000
    )
    rt.pending.append(Sleep(seconds))
    yield from ()


@cmdlet(
    "Get-Date", _UTILITY.format("GetDate"), params=("Format",), switches=("UFormat",), pure=False
)
def get_date(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    now = dt.datetime.now().astimezone()
    if bound.has("Format"):
        yield _dotnet_format(now, to_string(bound.get("Format")))
    else:
        yield now


def _dotnet_format(when: dt.datetime, fmt: str) -> str:
    table = (("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S"))
    for dotnet, strf in table:
        fmt = fmt.replace(dotnet, strf)
    return when.strftime(fmt)


@cmdlet("Out-Null", _UTILITY.format("OutNull"), params=("InputObject",))
def out_null(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    for _ in inputs:
        pass
    yield from ()


@cmdlet(
    "Out-String",
    _UTILITY.format("OutString"),
    params=("InputObject", "Width"),
    switches=("Stream",),
    positional=("InputObject",),
)
def out_string_cmd(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    values = (
        list(enumerate_value(bound.get("InputObject")))
        if bound.has("InputObject")
        else list(inputs)
    )
    lines = out_string(values)
    if bound.get("Stream"):
        yield from lines
    else:
        yield "\r\n".join(lines) + "\r\n"


@cmdlet(
    "Invoke-Expression",
    _UTILITY.format("InvokeExpression"),
    params=("Command",),
    positional=("Command",),
    pure=False,
    aliases=("iex",),
)
def invoke_expression(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    text = to_string(bound.get("Command"))
    script = parse(text)
    if isinstance(script, ParseError):
        raise StatementError(records.parse_error(script.message, script.error_id, None))
    # Windows runs the text with errors propagated: a failing statement fails the caller.
    saved_text, rt.text = rt.text, text
    rt.escalate += 1
    try:
        if script.end is not None:
            yield from rt.run_block(script.end)
    finally:
        rt.escalate -= 1
        rt.text = saved_text


@cmdlet(
    "ForEach-Object",
    _UTILITY.format("ForEachObject"),
    params=("Process", "Begin", "End", "MemberName"),
    positional=("Process",),
    aliases=("%", "foreach"),
)
def foreach_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    body = bound.get("Process")
    if bound.has("Begin"):
        yield from rt.invoke_block(bound.get("Begin"))
    for value in inputs:
        if isinstance(body, ScriptBlock):
            yield from rt.invoke_block(body, value)
        elif body is not None:
            yield from enumerate_value(get_member(value, to_string(body)))
    if bound.has("End"):
        yield from rt.invoke_block(bound.get("End"))


@cmdlet(
    "Where-Object",
    _UTILITY.format("WhereObject"),
    params=("FilterScript", "Property", "Value"),
    switches=_COMPARISONS,
    positional=("Property", "Value"),
    aliases=("where", "?"),
)
def where_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    script = bound.get("FilterScript")
    if script is None and isinstance(bound.get("Property"), ScriptBlock):
        script = bound.get("Property")
    if isinstance(script, ScriptBlock):
        for value in inputs:
            if rt.filter_block(script, value):
                yield value
        return
    prop = to_string(bound.get("Property"))
    ops = [op for op in _COMPARISONS if bound.has(op)]
    for value in inputs:
        member = get_member(value, prop)
        if not ops:
            keep = bool(member)
        else:
            keep = bool(compare("-" + ops[0].lower(), member, bound.get("Value")))
        if keep:
            yield value


@cmdlet(
    "Select-Object",
    _UTILITY.format("SelectObject"),
    params=("Property", "ExpandProperty", "First", "Last", "Skip", "ExcludeProperty"),
    switches=("Unique",),
    positional=("Property",),
    aliases=("select",),
)
def select_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    props = list(enumerate_value(bound.get("Property"))) if bound.has("Property") else []
    expand = bound.get("ExpandProperty")
    skip = int(to_number(bound.get("Skip", 0)))
    first = int(to_number(bound.get("First"))) if bound.has("First") else None
    values: Iterator[Any] | list[Any] = inputs
    if bound.has("Last"):
        values = list(inputs)[skip:]
        values = values[len(values) - int(to_number(bound.get("Last"))) :]
        skip = 0
    count = 0
    for index, value in enumerate(values):
        if index < skip:
            continue
        if first is not None and count >= first:
            break  # stop pulling: upstream work ends here, as in PowerShell
        count += 1
        if expand is not None:
            yield from enumerate_value(get_member(value, to_string(expand)))
        elif props:
            yield _select(rt, value, props)
        else:
            yield value


def _select(rt: Runtime, value: Any, props: list[Any]) -> Any:
    picked: dict[str, Any] = {}
    for prop in props:
        if isinstance(prop, dict):  # calculated property @{Name=...; Expression={...}}
            name = to_string(
                next(
                    (v for k, v in prop.items() if str(k).lower() in ("name", "n", "label", "l")),
                    "",
                )
            )
            expr = next((v for k, v in prop.items() if str(k).lower() in ("expression", "e")), None)
            picked[name] = (
                collect(rt.invoke_block(expr, value))
                if isinstance(expr, ScriptBlock)
                else get_member(value, to_string(expr))
            )
        elif to_string(prop) == "*":
            meta = getattr(value, "PSObject", None)
            for p in (*meta.adapted_properties, *meta.extended_properties) if meta else ():
                picked[p.name] = p.get_value(value)
        else:
            picked[to_string(prop)] = get_member(value, to_string(prop))
    type_names = getattr(getattr(value, "PSObject", None), "type_names", None)
    source = (
        type_names[0]
        if type_names and not isinstance(value, (str, int, float))
        else clr_name(value)
    )
    return objects.custom(picked, f"Selected.{source}")


@cmdlet(
    "Sort-Object",
    _UTILITY.format("SortObject"),
    params=("Property",),
    switches=("Descending", "Unique"),
    positional=("Property",),
    aliases=("sort",),
)
def sort_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    props = list(enumerate_value(bound.get("Property"))) if bound.has("Property") else []

    def key(value: Any) -> tuple[Any, ...]:
        if not props:
            return (order_key(value),)
        return tuple(
            order_key(
                collect(rt.invoke_block(p, value))
                if isinstance(p, ScriptBlock)
                else get_member(value, to_string(p))
            )
            for p in props
        )

    ordered = sorted(inputs, key=key, reverse=bool(bound.get("Descending")))
    if bound.get("Unique"):
        unique: dict[tuple[Any, ...], Any] = {}
        for value in ordered:
            unique.setdefault(key(value), value)
        ordered = list(unique.values())
    yield from ordered


@cmdlet(
    "Measure-Object",
    _UTILITY.format("MeasureObject"),
    params=("Property",),
    switches=("Sum", "Average", "Maximum", "Minimum"),
    positional=("Property",),
    aliases=("measure",),
)
def measure_object(rt: Runtime, bound: Bound, inputs: Iterator[Any]) -> Iterator[Any]:
    prop = to_string(bound.get("Property")) if bound.has("Property") else None
    values = [get_member(v, prop) if prop else v for v in inputs]
    wanted = any(bound.get(k) for k in ("Sum", "Average", "Maximum", "Minimum"))
    numbers = [float(to_number(v)) for v in values if v is not None] if wanted else []
    stats: dict[str, float | None] = {}
    if bound.get("Sum") or bound.get("Average"):
        stats["Sum"] = sum(numbers) if bound.get("Sum") else None
        stats["Average"] = (
            (sum(numbers) / len(numbers) if numbers else None) if bound.get("Average") else None
        )
    if bound.get("Maximum"):
        stats["Maximum"] = max(numbers) if numbers else None
    if bound.get("Minimum"):
        stats["Minimum"] = min(numbers) if numbers else None
    yield objects.measure_info(len(values), prop, stats)

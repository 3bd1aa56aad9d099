"""Entry points: run a script (or a psrpcore command list) and yield its items."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psrpcore.types import PSScriptBlock

from psfleet.simfleet import cmdshell
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import (
    builtins,
    commands,
    dotnet,
    filecmdlets,
    hostcmdlets,
    records,
    remoting,
    securestring,
)
from psfleet.simfleet.minips import syntax as s
from psfleet.simfleet.minips.evaluator import (
    ExitScript,
    ReturnFromBlock,
    Runtime,
    ScriptBlock,
    StatementError,
    Terminate,
    collect,
)
from psfleet.simfleet.minips.items import INPUT_PENDING, Error, Finished, Item, Output
from psfleet.simfleet.minips.parser import ParseError, parse
from psfleet.simfleet.minips.values import enumerate_value, to_string

# The cmdlet modules register themselves on import.
_CMDLET_MODULES = (builtins, filecmdlets, hostcmdlets, remoting, securestring)
# Native commands whose output depends on the session user, not only on the host.
_USER_DEPENDENT = frozenset({"whoami", "whoami.exe"})
_IMPURE_VARS = frozenset({"env:username"})
# The clock, and reading a SecureString: the client encrypts it with the session's key.
_IMPURE_STATICS = frozenset(
    {"now", "utcnow", "securestringtobstr", "securestringtoglobalallocunicode"}
)


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command of a psrpcore pipeline: cmdlet name or script text, and its
    parameters as sent (name None for positional arguments)."""

    text: str
    is_script: bool = False
    parameters: tuple[tuple[str | None, Any], ...] = ()
    end_of_statement: bool = False


def run_script(
    script: str,
    ctx: SessionContext,
    args: Sequence[Any] = (),
    input: Sequence[Any] = (),
    params: Mapping[str, Any] | None = None,
) -> Iterator[Item]:
    """Run script on ctx.host: Output/stream items as they happen, then one Finished."""
    parsed = parse(script)
    if isinstance(parsed, ParseError):
        yield _parse_failure(script, parsed)
        return
    rt = Runtime(ctx, script)
    positional = [(None, a) for a in args]
    named = list((params or {}).items())
    yield from _drive(rt, lambda: _script_stage(rt, parsed, [*named, *positional], iter(input)))


def streams_input(commands_: Sequence[CommandSpec]) -> bool:
    """True when the pipeline is one script whose process block can take input as it comes.

    Only then may run_commands get an input that yields INPUT_PENDING: the pending marker
    passes up through the script's output, which must therefore be the pipeline's.
    """
    if len(commands_) != 1 or not commands_[0].is_script:
        return False
    parsed = parse(commands_[0].text)
    return not isinstance(parsed, ParseError) and parsed.process is not None


def run_commands(
    commands_: Sequence[CommandSpec], ctx: SessionContext, input: Iterable[Any] = ()
) -> Generator[Item, None, None]:
    """Run a psrpcore PowerShell (statements of piped commands), as a ServerPipeline receives it."""
    statements: list[list[CommandSpec]] = [[]]
    for command in commands_:
        statements[-1].append(command)
        if command.end_of_statement:
            statements.append([])
    text = "; ".join(c.text for c in commands_ if c.is_script) or " | ".join(
        c.text for c in commands_
    )
    rt = Runtime(ctx, text)

    def values() -> Iterator[Any]:
        for index, statement in enumerate(st for st in statements if st):
            upstream: Iterator[Any] = iter(input) if index == 0 else iter(())
            try:
                for command in statement:
                    upstream = _command_stage(rt, command, upstream)
                yield from upstream
            except StatementError as err:
                if rt.preference("ErrorActionPreference") == "stop":
                    raise Terminate(err.record) from None
                rt.pending.append(Error(err.record))

    yield from _drive(rt, values)


def _command_stage(rt: Runtime, command: CommandSpec, upstream: Iterator[Any]) -> Iterator[Any]:
    if command.is_script:
        parsed = parse(command.text)
        if isinstance(parsed, ParseError):
            raise Terminate(
                _parse_failure(command.text, parsed).error
                or records.parse_error(parsed.message, parsed.error_id, None)
            )
        return _script_stage(rt, parsed, list(command.parameters), upstream)
    spec = commands.lookup(command.text)
    if spec is None:
        if command.text.lower().removesuffix(".exe") in cmdshell.COMMANDS:
            argv = [to_string(v) for _, v in command.parameters]
            result = cmdshell.run_cmd(command.text, argv, rt.ctx)
            return iter(result.stdout.decode().splitlines())
        raise StatementError(records.command_not_found(command.text, None))
    return spec.fn(rt, rt.bind(spec, command.text, command.parameters, None), upstream)


def _script_stage(
    rt: Runtime,
    script: s.Script,
    parameters: Sequence[tuple[str | None, Any]],
    upstream: Iterator[Any],
) -> Iterator[Any]:
    """Bind param() from named then positional values, the rest go to $args; run the blocks."""
    declared = {p.name: p for p in script.params}
    positional = [v for n, v in parameters if n is None]
    for name, value in parameters:
        if name is not None and name.lower() in declared:
            rt.vars[name.lower()] = value
    extra: list[Any] = []
    for decl in script.params:
        if decl.name not in rt.vars:
            rt.vars[decl.name] = (
                positional.pop(0)
                if positional
                else (None if decl.default is None else rt.eval(decl.default))
            )
    extra = positional
    rt.vars["args"] = extra
    try:
        if script.begin is not None:
            yield from rt.run_block(script.begin)
        if script.process is not None:
            for item in upstream:
                if item is INPUT_PENDING:
                    yield item  # up to the server, which waits for the next Send
                    continue
                rt.vars["_"] = item
                rt.vars["input"] = [item]
                yield from rt.run_block(script.process)
        rt.vars["input"] = [] if script.process is not None else list(upstream)
        if script.end is not None:
            yield from rt.run_block(script.end)
    except ReturnFromBlock:
        pass


def _drive(rt: Runtime, values: Callable[[], Iterator[Any]]) -> Iterator[Item]:
    """Interleave pending stream records before each output, end with Finished."""
    try:
        yield from _items(rt, values)
    finally:
        rt.release_handles()  # also when the pipeline is stopped (the generator closed)


def _items(rt: Runtime, values: Callable[[], Iterator[Any]]) -> Iterator[Item]:
    pending = rt.pending
    try:
        for value in values():
            while pending:
                yield pending.popleft()
            yield INPUT_PENDING if value is INPUT_PENDING else Output(_wire(value))
    except Terminate as err:
        yield from _flush(rt)
        yield Finished(failed=True, error=err.record)
        return
    except ExitScript as exit_:
        yield from _flush(rt)
        yield Finished(failed=False, exit_code=exit_.code)
        return
    except (TypeError, ValueError, LookupError) as exc:
        # Input the subset cannot handle fails the pipeline instead of the server.
        yield from _flush(rt)
        yield Finished(failed=True, error=rt.runtime_error(str(exc), "RuntimeException"))
        return
    yield from _flush(rt)
    yield Finished(failed=False)


def _flush(rt: Runtime) -> Iterator[Item]:
    while rt.pending:
        yield rt.pending.popleft()


def _wire(value: Any) -> Any:
    """Values psrpcore can serialize: script blocks and tuples have their own forms."""
    if isinstance(value, ScriptBlock):
        return PSScriptBlock(value.text)
    if isinstance(value, tuple):
        return list(value)
    return value


def _parse_failure(script: str, err: ParseError) -> Finished:
    line = script.count("\n", 0, err.offset) + 1
    column = err.offset - (script.rfind("\n", 0, err.offset) + 1) + 1
    where = records.invocation(script, s.Position(err.offset, line, column, 1))
    return Finished(failed=True, error=records.parse_error(err.message, err.error_id, where))


@lru_cache(maxsize=4096)
def is_cacheable(script: str) -> bool:
    """True when the output is a pure function of (script, host, delegable, args, input).

    Not cacheable: anything reading the clock (Get-Date, [datetime]::Now, Get-Process
    CPU, Test-Cluster's report name, information records' TimeGenerated), Start-Sleep
    (timing is the point), Invoke-Expression (text decided at run time), what
    depends on the user ($env:USERNAME, whoami) and what depends on the session key
    (ConvertTo-SecureString, reading a SecureString).
    """
    parsed = parse(script)
    return True if isinstance(parsed, ParseError) else _pure(parsed)


def _pure(node: Any) -> bool:
    if isinstance(node, tuple):
        return all(_pure(n) for n in node)
    if not dataclasses.is_dataclass(node):
        return True
    if isinstance(node, s.CommandCall):
        spec = commands.lookup(node.name)
        if (spec is not None and not spec.pure) or node.name.lower() in _USER_DEPENDENT:
            return False
    if isinstance(node, s.Var) and node.name in _IMPURE_VARS:
        return False
    if (
        isinstance(node, (s.Member, s.Call))
        and node.static
        and node.name.lower() in _IMPURE_STATICS
    ):
        return False
    if isinstance(node, s.TypeLit) and dotnet.simple_type(node.type_name) in dotnet.IO_TYPES:
        return False  # the disk changes between runs
    return all(_pure(getattr(node, f.name)) for f in dataclasses.fields(node))


__all__ = [
    "CommandSpec",
    "collect",
    "enumerate_value",
    "is_cacheable",
    "run_commands",
    "run_script",
]

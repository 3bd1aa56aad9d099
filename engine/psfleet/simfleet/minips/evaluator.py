"""The evaluator: statements, pipelines of lazy generator stages, expressions.

Values flow through pipeline stages as plain generators; records on the other
streams (errors, warnings, sleeps...) go to Runtime.pending and are flushed by
the driver before the next output value, which keeps PowerShell's ordering
without every stage having to forward them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from psrpcore.types import ErrorCategory, ErrorRecord, InvocationInfo, PSVersion

from psfleet.simfleet import cmdshell
from psfleet.simfleet.filesystem import SimFile, WindowsIOError
from psfleet.simfleet.hostfacts import SessionContext
from psfleet.simfleet.minips import commands, dotnet, objects, records, securestring
from psfleet.simfleet.minips import syntax as s
from psfleet.simfleet.minips.items import Error, StreamItem
from psfleet.simfleet.minips.values import (
    call_method,
    compare,
    enumerate_value,
    get_member,
    is_collection,
    to_bool,
    to_number,
    to_string,
)

_NO_VALUE = object()
_PREFERENCE_DEFAULTS = {
    "erroractionpreference": "Continue",
    "warningpreference": "Continue",
    "verbosepreference": "SilentlyContinue",
    "debugpreference": "SilentlyContinue",
    "informationpreference": "SilentlyContinue",
    "progresspreference": "Continue",
}


class Terminate(Exception):
    """A terminating error: unwinds to the nearest try/catch or ends the script."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(str(record))
        self.record = record


class StatementError(Exception):
    """A statement-terminating error: the statement stops, the script goes on."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(str(record))
        self.record = record


class ExitScript(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class ReturnFromBlock(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ScriptBlock:
    body: s.Block
    text: str

    def __str__(self) -> str:
        return self.text


def collect(values: Iterable[Any]) -> Any:
    """The value of a pipeline used as an expression: nothing, one item, or an array."""
    items = list(values)
    if not items:
        return None
    return items[0] if len(items) == 1 else items


class Runtime:
    """The state of one script run on one host."""

    def __init__(self, ctx: SessionContext, text: str, using: dict[str, Any] | None = None) -> None:
        self.ctx = ctx
        self.text = text
        self.vars: dict[str, Any] = {}
        self.using = using or {}
        self.pending: deque[StreamItem] = deque()
        # Inside Invoke-Expression or try, statement errors unwind instead of being reported.
        self.escalate = 0
        # Unmanaged memory of Marshal calls: pointer -> the string it holds.
        self.memory: dict[int, str] = {}
        # Files the run opened: closed when it ends, however it ends.
        self.handles: list[SimFile] = []

    # -- streams and errors -----------------------------------------------------

    def where(self, pos: s.Position | None, command: str = "") -> InvocationInfo | None:
        return records.invocation(self.text, pos, command)

    def preference(self, name: str, bound: commands.Bound | None = None, param: str = "") -> str:
        if bound is not None and param and bound.has(param):
            return to_string(bound.get(param)).lower()
        key = name.lower()
        return to_string(self.vars.get(key, _PREFERENCE_DEFAULTS.get(key, "Continue"))).lower()

    def write_error(self, record: ErrorRecord, bound: commands.Bound | None = None) -> None:
        """A non-terminating error, subject to -ErrorAction / $ErrorActionPreference."""
        action = self.preference("ErrorActionPreference", bound, "ErrorAction")
        if action == "stop":
            raise Terminate(record)
        if action not in ("silentlycontinue", "ignore"):
            self.pending.append(Error(record))

    # -- variables --------------------------------------------------------------

    def get_var(self, name: str) -> Any:
        if name in self.vars:
            return self.vars[name]
        if name.startswith("env:"):
            return self.env(name[4:])
        if name.startswith("using:"):
            return self.using.get(name[6:])
        if name == "psversiontable":
            return objects.psversion_table(self.ctx.host)
        if name in _PREFERENCE_DEFAULTS:
            return _PREFERENCE_DEFAULTS[name]
        if name == "pid":
            return next(p.pid for p in self.ctx.host.processes if p.name == "wsmprovhost")
        return None

    def env(self, name: str) -> str | None:
        host = self.ctx.host
        domain, _, user = self.ctx.user.rpartition("\\")
        table = {
            "computername": host.name,
            "username": user,
            "userdomain": domain or host.domain,
            "userdnsdomain": host.fqdn.split(".", 1)[1].upper(),
            "os": "Windows_NT",
            "processor_architecture": "AMD64",
            "systemroot": "C:\\Windows",
            "windir": "C:\\Windows",
            "systemdrive": "C:",
            "number_of_processors": str(2 + host.memory_kb // (16 << 20)),
        }
        return table.get(name)

    # -- statements -------------------------------------------------------------

    def run_block(self, block: s.Block) -> Iterator[Any]:
        for statement in block.statements:
            yield from self.run_statement(statement)

    def run_statement(self, st: s.Statement) -> Iterator[Any]:
        try:
            if isinstance(st, s.Pipeline):
                yield from self.run_pipeline(st)
            elif isinstance(st, s.Assign):
                self.vars[st.target] = collect(self.run_pipeline(st.value))
            elif isinstance(st, s.If):
                yield from self.run_if(st)
            elif isinstance(st, s.ForEach):
                for item in list(enumerate_value(collect(self.run_pipeline(st.source)))):
                    self.vars[st.var] = item
                    yield from self.run_block(st.body)
            elif isinstance(st, s.TryCatch):
                yield from self.run_try(st)
            elif isinstance(st, s.Throw):
                value = None if st.value is None else collect(self.run_pipeline(st.value))
                if isinstance(value, ErrorRecord):  # throw $_ in a catch block rethrows
                    raise Terminate(value)
                raise Terminate(records.thrown(value, self.where(st.pos)))
            elif isinstance(st, s.Exit):
                raise ExitScript(0 if st.value is None else int(to_number(self.eval(st.value))))
            else:
                if st.value is not None:
                    yield from self.run_pipeline(st.value)
                raise ReturnFromBlock
        except StatementError as err:
            if self.escalate or self.preference("ErrorActionPreference") == "stop":
                raise Terminate(err.record) from None
            self.pending.append(Error(err.record))

    def run_if(self, st: s.If) -> Iterator[Any]:
        for condition, body in st.clauses:
            if to_bool(collect(self.run_pipeline(condition))):
                yield from self.run_block(body)
                return
        if st.otherwise is not None:
            yield from self.run_block(st.otherwise)

    def run_try(self, st: s.TryCatch) -> Iterator[Any]:
        self.escalate += 1
        try:
            yield from self.run_block(st.body)
        except Terminate as err:
            if st.handler is None:
                raise
            self.escalate -= 1
            try:
                yield from self.invoke_block(ScriptBlock(st.handler, ""), err.record)
            finally:
                self.escalate += 1
        finally:
            self.escalate -= 1
            if st.final is not None:
                yield from self.run_block(st.final)

    def invoke_block(
        self, block: ScriptBlock, dollar_under: Any = _NO_VALUE, args: Sequence[Any] = ()
    ) -> Iterator[Any]:
        """Run a script block in the current scope with $_ (and $args) set."""
        saved = (self.vars.get("_", _NO_VALUE), self.vars.get("args", _NO_VALUE))
        if dollar_under is not _NO_VALUE:
            self.vars["_"] = dollar_under
        self.vars["args"] = list(args)
        try:
            yield from self.run_block(block.body)
        except ReturnFromBlock:
            pass
        finally:
            for key, old in zip(("_", "args"), saved, strict=True):
                if old is _NO_VALUE:
                    self.vars.pop(key, None)
                else:
                    self.vars[key] = old

    def filter_block(self, block: ScriptBlock, value: Any) -> bool:
        return to_bool(collect(self.invoke_block(block, value)))

    # -- pipelines --------------------------------------------------------------

    def run_pipeline(
        self, pipe: s.Pipeline, upstream: Iterator[Any] | None = None
    ) -> Iterator[Any]:
        stream: Iterator[Any] = iter(()) if upstream is None else upstream
        for element in pipe.elements:
            if isinstance(element, s.ExprElement):
                stream = enumerate_value(self.eval(element.expr))
            else:
                stream = self.invoke(element, stream)
        return stream

    def invoke(self, call: s.CommandCall, upstream: Iterator[Any]) -> Iterator[Any]:
        """Resolve and bind now (errors stop the statement before any output), run lazily."""
        spec = commands.lookup(call.name)
        if spec is None:
            return self.native(call)
        args: list[tuple[str | None, Any]] = []
        for arg in call.args:
            if isinstance(arg, s.Param):
                value = _NO_VALUE if arg.value is None else self.eval(arg.value)
                args.append((arg.name, value))
            else:
                args.append((None, self.eval(arg)))
        bound = self.bind(spec, call.name, args, call.pos)
        return spec.fn(self, bound, upstream)

    def native(self, call: s.CommandCall) -> Iterator[Any]:
        name = call.name.lower().removesuffix(".exe")
        if name not in cmdshell.COMMANDS:
            raise StatementError(records.command_not_found(call.name, self.where(call.pos)))
        argv = [
            to_string(self.eval(a)) if not isinstance(a, s.Param) else f"-{a.name}"
            for a in call.args
        ]
        result = cmdshell.run_cmd(name, argv, self.ctx)
        return iter(result.stdout.decode("utf-8").splitlines())

    def bind(
        self,
        spec: commands.Cmdlet,
        invoked: str,
        args: Sequence[tuple[str | None, Any]],
        pos: s.Position | None,
    ) -> commands.Bound:
        """PowerShell parameter binding, simplified: unique prefixes, switches, positions."""
        names = (*spec.params, *spec.switches, *commands.COMMON)
        switches = spec.switches | commands.COMMON_SWITCHES
        values: dict[str, Any] = {}
        positional = list(spec.positional)
        pending_name: str | None = None
        remaining: list[Any] | None = None
        for name, value in args:
            if name is None and pending_name is not None:
                values[pending_name.lower()] = value
                pending_name = None
                continue
            if name is None:
                while positional and positional[0].lower() in values:
                    positional.pop(0)
                if positional:
                    values[positional.pop(0).lower()] = value
                elif spec.remaining is None:
                    raise StatementError(self.positional_error(spec, value, pos))
                else:
                    # Extra arguments join the remaining-arguments parameter as one list.
                    if remaining is None:
                        key = spec.remaining.lower()
                        remaining = [values[key]] if key in values else []
                        values[key] = remaining
                    remaining.append(value)
                continue
            if pending_name is not None:
                raise StatementError(self.missing_argument(spec, pending_name, pos))
            canonical = _resolve(name, names)
            if canonical is None:
                raise StatementError(
                    records.parameter_not_found(
                        invoked, spec.type_name, name, self.where(pos, invoked)
                    )
                )
            if canonical in switches:
                # psrpcore clients send a switch as (name, None) or (name, True).
                values[canonical.lower()] = True if value is None or value is _NO_VALUE else value
            elif value is not _NO_VALUE:
                values[canonical.lower()] = value
            else:
                pending_name = canonical
        if pending_name is not None:
            raise StatementError(self.missing_argument(spec, pending_name, pos))
        return commands.Bound(invoked, values, pos)

    def positional_error(
        self, spec: commands.Cmdlet, value: Any, pos: s.Position | None
    ) -> ErrorRecord:
        exc = records.exception(
            [
                "System.Management.Automation.ParameterBindingException",
                "System.Management.Automation.RuntimeException",
                "System.SystemException",
            ],
            f"A positional parameter cannot be found that accepts argument '{to_string(value)}'.",
        )
        return records.record(
            exc,
            ErrorCategory.InvalidArgument,
            f"PositionalParameterNotFound,{spec.type_name}",
            activity=spec.name,
            where=self.where(pos, spec.name),
        )

    def missing_argument(
        self, spec: commands.Cmdlet, name: str, pos: s.Position | None
    ) -> ErrorRecord:
        exc = records.exception(
            [
                "System.Management.Automation.ParameterBindingException",
                "System.Management.Automation.RuntimeException",
                "System.SystemException",
            ],
            f"Missing an argument for parameter '{name}'. "
            "Specify a parameter of type 'System.Object' and try again.",
        )
        return records.record(
            exc,
            ErrorCategory.InvalidArgument,
            f"MissingArgument,{spec.type_name}",
            activity=spec.name,
            where=self.where(pos, spec.name),
        )

    # -- expressions ------------------------------------------------------------

    def eval(self, e: s.Expr) -> Any:
        if isinstance(e, s.Const):
            return e.value
        if isinstance(e, s.Var):
            return self.get_var(e.name)
        if isinstance(e, s.Member):
            if e.static and isinstance(e.target, s.TypeLit):
                return self.static_member(e.target.type_name, e.name)
            target = self.eval(e.target)
            if isinstance(target, dotnet.DotNetObject):
                return self.dotnet_member(target, e.name)
            return get_member(target, e.name)
        if isinstance(e, s.Binary):
            return self.binary(e)
        if isinstance(e, s.Expandable):
            return "".join(p if isinstance(p, str) else to_string(self.eval(p)) for p in e.parts)
        if isinstance(e, s.ArrayLit):
            return [self.eval(item) for item in e.items]
        if isinstance(e, s.SubExpr):
            values = list(self.run_block(e.body))
            return values if e.force_array else collect(values)
        if isinstance(e, s.HashLit):
            return {
                to_string(self.eval(k)) if not isinstance(k, s.Const) else k.value: self.eval(v)
                for k, v in e.entries
            }
        if isinstance(e, s.ScriptBlockLit):
            return ScriptBlock(e.body, e.text)
        if isinstance(e, s.PipelineExpr):
            return collect(self.run_pipeline(e.pipeline))
        if isinstance(e, s.Index):
            return _index(self.eval(e.target), self.eval(e.index))
        if isinstance(e, s.Call):
            return self.call(e)
        if isinstance(e, s.Cast):
            return self.cast(e.type_name, self.eval(e.value))
        if isinstance(e, s.Unary):
            value = self.eval(e.value)
            if e.op == "-not":
                return not to_bool(value)
            return [value] if e.op == "," else -to_number(value)
        raise StatementError(
            self.runtime_error(
                f"Unsupported expression {type(e).__name__}.", "UnsupportedExpression"
            )
        )

    def dotnet_member(self, target: dotnet.DotNetObject, name: str) -> Any:
        try:
            return target.member(name.lower())
        except LookupError:
            return None  # PowerShell: a missing property reads as $null
        except dotnet.DotNetError as err:
            message = f'Exception getting "{name}": "{err.message}"'
            raise StatementError(
                self.runtime_error(message, "ExceptionWhenGetting", "NotSpecified")
            ) from None

    def release_handles(self) -> None:
        while self.handles:
            self.handles.pop().close()

    def binary(self, e: s.Binary) -> Any:
        op = e.op
        if op in ("-and", "-or"):
            left = to_bool(self.eval(e.left))
            if (op == "-and") != left:
                return left
            return to_bool(self.eval(e.right))
        left, right = self.eval(e.left), self.eval(e.right)
        if op == "-xor":
            return to_bool(left) != to_bool(right)
        if op == "..":
            lo, hi = int(to_number(left)), int(to_number(right))
            return list(range(lo, hi + 1) if lo <= hi else range(lo, hi - 1, -1))
        if op == "-f":
            return _format(to_string(left), list(enumerate_value(right)))
        if op in ("+", "-", "*", "/", "%"):
            return self.arithmetic(op, left, right)
        try:
            return compare(op, left, right)
        except (LookupError, TypeError) as exc:
            raise StatementError(self.runtime_error(str(exc), "RuntimeException")) from None

    def arithmetic(self, op: str, left: Any, right: Any) -> Any:
        if op == "+" and isinstance(left, str):
            return left + to_string(right)
        if op == "+" and is_collection(left):
            return [*left, *enumerate_value(right)]
        if op == "+" and isinstance(left, dict) and isinstance(right, dict):
            return {**left, **right}
        if op == "*" and isinstance(left, str):
            return left * int(to_number(right))
        try:
            a, b = to_number(0 if left is None else left), to_number(0 if right is None else right)
        except TypeError as exc:
            raise StatementError(
                self.runtime_error(str(exc), "InvalidCastFromStringToInteger")
            ) from None
        if op in ("/", "%") and b == 0:
            raise StatementError(
                self.runtime_error("Attempted to divide by zero.", "RuntimeException")
            )
        if op == "/":
            quotient = a / b
            return (
                int(quotient)
                if isinstance(a, int) and isinstance(b, int) and a % b == 0
                else quotient
            )
        if op == "%":  # not in one dict with the others: `x + 0` must not divide by zero
            return a % b
        return {"+": a + b, "-": a - b, "*": a * b}[op]

    def call(self, e: s.Call) -> Any:
        args = [self.eval(a) for a in e.args]
        try:
            if e.static and isinstance(e.target, s.TypeLit):
                if dotnet.handles(e.target.type_name):
                    with contextlib.suppress(LookupError):
                        return dotnet.output(
                            dotnet.static_call(self, e.target.type_name, e.name, args)
                        )
                return self.static_call(e.target.type_name, e.name, args)
            target = self.eval(e.target)
            if isinstance(target, dotnet.DotNetObject):
                return dotnet.output(target.call(e.name.lower(), args))
        except (WindowsIOError, dotnet.DotNetError) as err:
            raise StatementError(dotnet.method_error(e.name, args, err)) from None
        try:
            return call_method(target, e.name, args)
        except (LookupError, IndexError, ValueError, TypeError):
            type_name = "System.String" if isinstance(target, str) else "System.Object"
            message = (
                f"Method invocation failed because [{type_name}] does not contain "
                f"a method named '{e.name}'."
            )
            raise StatementError(
                self.runtime_error(message, "MethodNotFound", "InvalidOperation")
            ) from None

    def static_member(self, type_name: str, name: str) -> Any:
        enum_value = dotnet.enum_member(type_name, name)
        if enum_value is not None:
            return enum_value
        lower = (type_name.removeprefix("system."), name.lower())
        if lower == ("datetime", "now"):
            return dt.datetime.now().astimezone()
        if lower == ("datetime", "utcnow"):
            return dt.datetime.now(dt.UTC)
        if lower == ("environment", "machinename"):
            return self.ctx.host.name
        if lower == ("environment", "osversion"):
            return f"Microsoft Windows NT {self.ctx.host.os_version}.0"
        if lower == ("math", "pi"):
            return 3.141592653589793
        raise StatementError(
            self.runtime_error(
                f"Unable to find type [{type_name}].", "TypeNotFound", "InvalidOperation"
            )
        )

    def static_call(self, type_name: str, name: str, args: list[Any]) -> Any:
        if securestring.is_marshal(type_name):
            return self.marshal_call(type_name, name, args)
        key = (type_name.removeprefix("system."), name.lower())
        if key == ("math", "round"):
            digits = int(to_number(args[1])) if len(args) > 1 else 0
            rounded = round(float(to_number(args[0])), digits)
            return int(rounded) if digits == 0 else rounded
        if key == ("math", "max"):
            return max(to_number(a) for a in args)
        if key == ("math", "min"):
            return min(to_number(a) for a in args)
        return self.static_member(type_name, name)

    def marshal_call(self, type_name: str, name: str, args: list[Any]) -> Any:
        try:
            return securestring.marshal_call(self.memory, name, args)
        except securestring.MarshalError as err:
            raise StatementError(self.runtime_error(err.message, err.error_id)) from None
        except securestring.Undecryptable:
            # Windows fails the whole pipeline on such a value (while deserializing it).
            raise Terminate(securestring.undecryptable()) from None
        except LookupError:
            message = (
                f"Method invocation failed because [{type_name}] does not contain "
                f"a method named '{name}'."
            )
            raise StatementError(
                self.runtime_error(message, "MethodNotFound", "InvalidOperation")
            ) from None

    def cast(self, type_name: str, value: Any) -> Any:
        simple = type_name.removeprefix("system.")
        try:
            if simple in ("int", "int32", "long", "int64"):
                # [int] rounds numbers half to even, like .NET's Convert.ToInt32.
                return round(to_number(value))
            if simple in ("double", "float", "single", "decimal"):
                return float(to_number(value))
        except TypeError as exc:
            raise StatementError(
                self.runtime_error(str(exc), "InvalidCastFromStringToInteger", "InvalidArgument")
            ) from None
        if simple == "string":
            return to_string(value)
        if simple == "bool":
            return to_bool(value)
        if simple in ("array", "object[]"):
            return list(enumerate_value(value))
        if simple in ("pscustomobject", "ordered") and isinstance(value, dict):
            return (
                objects.custom({to_string(k): v for k, v in value.items()})
                if simple == "pscustomobject"
                else dict(value)
            )
        if simple == "version":
            return PSVersion(to_string(value))
        return value

    def runtime_error(
        self, message: str, error_id: str, category: str = "NotSpecified"
    ) -> ErrorRecord:
        exc = records.exception(
            ["System.Management.Automation.RuntimeException", "System.SystemException"], message
        )
        return records.record(exc, ErrorCategory[category], error_id)


def _resolve(name: str, candidates: Sequence[str]) -> str | None:
    """Exact name, else a unique prefix, case-insensitive (like PowerShell)."""
    lower = name.lower()
    aliases = {
        "ea": "ErrorAction",
        "wa": "WarningAction",
        "ia": "InformationAction",
        "cn": "ComputerName",
        "args": "ArgumentList",
    }
    if lower in aliases and aliases[lower] in candidates:
        return aliases[lower]
    exact = [c for c in candidates if c.lower() == lower]
    if exact:
        return exact[0]
    matches = [c for c in candidates if c.lower().startswith(lower)]
    return matches[0] if len(matches) == 1 else None


def _index(target: Any, index: Any) -> Any:
    if is_collection(index):
        return [_index(target, i) for i in index]
    if isinstance(target, dict):
        return get_member(target, to_string(index))
    if isinstance(target, (list, tuple, str)):
        i = int(to_number(index))
        return target[i] if -len(target) <= i < len(target) else None
    return target if to_number(index) in (0, -1) else None


def _format(template: str, args: list[Any]) -> str:
    """-f with {0} / {0:N2}-style placeholders (the common subset)."""

    def one(match: re.Match[str]) -> str:
        value = args[int(match.group(1))] if int(match.group(1)) < len(args) else None
        spec = match.group(2) or ""
        if spec[:1].upper() in ("N", "F") and isinstance(value, (int, float)):
            digits = int(spec[1:] or 2)
            return f"{value:,.{digits}f}" if spec[0].upper() == "N" else f"{value:.{digits}f}"
        return to_string(value)

    return re.sub(r"\{(\d+)(?::([^}]*))?\}", one, template)

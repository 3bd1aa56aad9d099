"""Error records shaped like the ones Windows PowerShell 5.1 sends.

Each builder names the .NET exception chain, category and FullyQualifiedErrorId
that Windows uses, so clients classify simulated errors exactly like real ones.
"""

from __future__ import annotations

from typing import Any

from psrpcore.types import (
    CommandOrigin,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    InvocationInfo,
    NETException,
)

from psfleet.simfleet.minips.syntax import Position

_EXCEPTION_BASE = ["System.Exception", "System.Object"]
_RUNTIME = ["System.Management.Automation.RuntimeException", "System.SystemException"]
_NOT_RECOGNIZED = (
    "The term '{0}' is not recognized as the name of a cmdlet, function, script file, or "
    "operable program. Check the spelling of the name, or if a path was included, verify "
    "that the path is correct and try again."
)
_REMOTING_HELP = "For more information, see the about_Remote_Troubleshooting Help topic."


class _CategoryInfo(ErrorCategoryInfo):
    """ErrorCategoryInfo whose text is Windows' "Category: (target:Type) [activity], Reason"
    (psrpcore's own omits the colon); psrpcore serializes str() as ErrorCategory_Message."""

    def __str__(self) -> str:
        return (
            f"{self.Category.name}: ({self.TargetName or ''}:{self.TargetType or ''}) "
            f"[{self.Activity or ''}], {self.Reason or ''}"
        )


def exception(type_names: list[str], message: str, hresult: int = -2146233087) -> NETException:
    """A .NET exception whose type chain and ToString match Windows."""
    exc = NETException(Message=message, HResult=hresult)
    exc.PSObject.type_names = [*type_names, *_EXCEPTION_BASE]
    exc.PSObject.to_string = f"{type_names[0]}: {message}"
    return exc


def invocation(script: str, pos: Position | None, command: str = "") -> InvocationInfo | None:
    """InvocationInfo pointing at the command, with PowerShell's position message."""
    if pos is None:
        return None
    lines = script.splitlines() or [""]
    line = lines[min(pos.line, len(lines)) - 1]
    marker = " " * (pos.column - 1) + "~" * max(1, min(pos.length, len(line) - pos.column + 1))
    return InvocationInfo(
        BoundParameters={},
        CommandOrigin=CommandOrigin.Internal,
        ExpectingInput=False,
        HistoryId=1,
        InvocationName=command,
        Line=line,
        OffsetInLine=pos.column,
        PipelineLength=0,
        PipelinePosition=0,
        PositionMessage=f"At line:{pos.line} char:{pos.column}\r\n+ {line}\r\n+ {marker}",
        PSCommandPath=None,
        PSScriptRoot="",
        ScriptLineNumber=pos.line,
        ScriptName="",
        UnboundArguments=[],
    )


def record(
    exc: NETException,
    category: ErrorCategory,
    error_id: str,
    *,
    target: Any = None,
    activity: str = "",
    where: InvocationInfo | None = None,
) -> ErrorRecord:
    """An ErrorRecord with Windows' category text and script stack trace."""
    reason = exc.PSObject.type_names[0].rsplit(".", 1)[-1]
    target_name = "" if target is None else str(target)
    target_type = "" if target is None else _type_name(target)
    info = _CategoryInfo(
        Category=category,
        Activity=activity,
        Reason=reason,
        TargetName=target_name,
        TargetType=target_type,
    )
    line = where.ScriptLineNumber if where is not None else 1
    return ErrorRecord(
        Exception=exc,
        CategoryInfo=info,
        TargetObject=target,
        FullyQualifiedErrorId=error_id,
        InvocationInfo=where,
        ScriptStackTrace=f"at <ScriptBlock>, <No file>: line {line}",
    )


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return "String"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Int32"
    names = getattr(getattr(value, "PSObject", None), "type_names", None) or ["Object"]
    return str(names[0]).rsplit(".", 1)[-1]


def command_not_found(name: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        ["System.Management.Automation.CommandNotFoundException", *_RUNTIME],
        _NOT_RECOGNIZED.format(name),
    )
    return record(
        exc, ErrorCategory.ObjectNotFound, "CommandNotFoundException", target=name, where=where
    )


def write_error(message: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        ["Microsoft.PowerShell.Commands.WriteErrorException", "System.SystemException"], message
    )
    return record(
        exc,
        ErrorCategory.NotSpecified,
        "Microsoft.PowerShell.Commands.WriteErrorException",
        activity="Write-Error",
        where=where,
    )


def thrown(value: Any, where: InvocationInfo | None) -> ErrorRecord:
    """throw: a RuntimeException whose FullyQualifiedErrorId is the message itself."""
    if isinstance(value, ErrorRecord):
        return value
    message = "ScriptHalted" if value is None else str(value)
    exc = exception(_RUNTIME, message)
    exc.WasThrownFromThrowStatement = True
    return record(exc, ErrorCategory.OperationStopped, message, target=value, where=where)


def parse_error(message: str, error_id: str, where: InvocationInfo | None) -> ErrorRecord:
    text = f"{where.PositionMessage}\r\n{message}" if where is not None else message
    exc = exception(["System.Management.Automation.ParseException", *_RUNTIME], text)
    return record(exc, ErrorCategory.ParserError, error_id, where=where)


def parameter_not_found(
    command: str, cmdlet_type: str, name: str, where: InvocationInfo | None
) -> ErrorRecord:
    exc = exception(
        [
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
        ],
        f"A parameter cannot be found that matches parameter name '{name}'.",
    )
    return record(
        exc,
        ErrorCategory.InvalidArgument,
        f"NamedParameterNotFound,{cmdlet_type}",
        activity=command,
        where=where,
    )


def missing_mandatory(
    command: str, cmdlet_type: str, name: str, where: InvocationInfo | None
) -> ErrorRecord:
    """A mandatory parameter not given: a remote session has no host to prompt for it."""
    exc = exception(
        [
            "System.Management.Automation.ParameterBindingException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
        ],
        f"Cannot process command because of one or more missing mandatory parameters: {name}.",
    )
    return record(
        exc,
        ErrorCategory.InvalidArgument,
        f"MissingMandatoryParameter,{cmdlet_type}",
        activity=command,
        where=where,
    )


def remoting_failed(
    computer: str, detail: str, error_id: str, hresult: int, where: InvocationInfo | None
) -> ErrorRecord:
    """Invoke-Command's record when the session to computer cannot be opened."""
    exc = exception(
        ["System.Management.Automation.Remoting.PSRemotingTransportException", *_RUNTIME],
        f"Connecting to remote server {computer} failed with the following error message : "
        f"{detail} {_REMOTING_HELP}",
        hresult,
    )
    rec = record(exc, ErrorCategory.OpenError, error_id, target=computer, where=where)
    # Windows prefixes the message shown to the user with the computer name.
    rec.PSObject.to_string = f"[{computer}] {exc.Message}"
    return rec


def access_denied(computer: str, where: InvocationInfo | None) -> ErrorRecord:
    return remoting_failed(
        computer, "Access is denied.", "AccessDenied,PSSessionStateBroken", -2147024891, where
    )


def computer_not_found(computer: str, where: InvocationInfo | None) -> ErrorRecord:
    detail = (
        "WinRM cannot complete the operation. Verify that the specified computer name is valid, "
        "that the computer is accessible over the network, and that a firewall exception for the "
        "WinRM service is enabled and allows access from this computer. By default, the WinRM "
        "firewall exception for public profiles limits access to remote computers within the same "
        "local subnet."
    )
    return remoting_failed(
        computer, detail, "ComputerNotFound,PSSessionStateBroken", -2144108103, where
    )


def unc_access_denied(path: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        ["System.UnauthorizedAccessException", "System.SystemException"],
        f"Access to the path '{path}' is denied.",
        -2147024891,
    )
    return record(
        exc,
        ErrorCategory.PermissionDenied,
        "DirUnauthorizedAccessError,Microsoft.PowerShell.Commands.GetChildItemCommand",
        target=path,
        activity="Get-ChildItem",
        where=where,
    )


def path_not_found(path: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        [
            "System.Management.Automation.ItemNotFoundException",
            "System.Management.Automation.SessionStateException",
            *_RUNTIME,
        ],
        f"Cannot find path '{path}' because it does not exist.",
    )
    return record(
        exc,
        ErrorCategory.ObjectNotFound,
        "PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand",
        target=path,
        activity="Get-ChildItem",
        where=where,
    )


def cluster_access_denied(cluster: str, node: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        ["Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"],
        "You do not have administrative privileges on the cluster. Contact your network "
        "administrator to request access.\r\n    Access is denied. "
        f"Unable to contact node '{node}' to run validation tests.",
        -2147024891,
    )
    return record(
        exc,
        ErrorCategory.AuthenticationError,
        "ClusterAccessDenied,Microsoft.FailoverClusters.PowerShell.TestClusterCommand",
        target=cluster,
        activity="Test-Cluster",
        where=where,
    )


def no_cluster(
    command: str, cmdlet_type: str, computer: str, where: InvocationInfo | None
) -> ErrorRecord:
    exc = exception(
        ["Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"],
        f"The cluster service is not running on '{computer}'. "
        "Make sure that the node is part of a cluster.",
    )
    return record(
        exc,
        ErrorCategory.ConnectionError,
        f"ClusterServiceNotRunning,{cmdlet_type}",
        activity=command,
        where=where,
    )


def not_found(
    exception_type: str,
    message: str,
    error_id: str,
    command: str,
    target: Any,
    where: InvocationInfo | None,
) -> ErrorRecord:
    """A cmdlet's 'no such item' record (Get-Service, Get-Process)."""
    exc = exception([exception_type, "System.SystemException"], message)
    return record(
        exc, ErrorCategory.ObjectNotFound, error_id, target=target, activity=command, where=where
    )


def cluster_node_unreachable(node: str, where: InvocationInfo | None) -> ErrorRecord:
    exc = exception(
        ["Microsoft.FailoverClusters.PowerShell.ClusterCmdletException"],
        f"The node '{node}' could not be reached. The RPC server is unavailable.",
        -2147023174,
    )
    return record(
        exc,
        ErrorCategory.ConnectionError,
        "ClusterRpcServerUnavailable,Microsoft.FailoverClusters.PowerShell.TestClusterCommand",
        target=node,
        activity="Test-Cluster",
        where=where,
    )

"""The .NET objects the simulated cmdlets return, as psrpcore types.

Objects derived only from host facts are built once per host and shared
(lru_cache): callers must copy before adding members (see with_note).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from psrpcore.types import (
    PSCustomObject,
    PSEnumBase,
    PSNoteProperty,
    PSObject,
    PSString,
    PSType,
    PSVersion,
)

from psfleet.simfleet.hostfacts import HostFacts


@PSType(["System.ServiceProcess.ServiceControllerStatus"])
class ServiceControllerStatus(PSEnumBase):
    Stopped = 1
    StartPending = 2
    StopPending = 3
    Running = 4
    ContinuePending = 5
    PausePending = 6
    Paused = 7


@PSType(["System.ServiceProcess.ServiceStartMode"])
class ServiceStartMode(PSEnumBase):
    Boot = 0
    System = 1
    Automatic = 2
    Manual = 3
    Disabled = 4


@PSType(["Microsoft.FailoverClusters.PowerShell.ClusterNodeState"])
class ClusterNodeState(PSEnumBase):
    Up = 0
    Down = 1
    Paused = 2
    Joining = 3
    Unknown = -1


@PSType(["Microsoft.FailoverClusters.PowerShell.ClusterGroupState"])
class ClusterGroupState(PSEnumBase):
    Online = 0
    Offline = 1
    Failed = 2
    PartialOnline = 3
    Pending = 4
    Unknown = -1


def note(name: str, value: Any, owner: PSObject) -> PSNoteProperty:
    """A note property; set after construction because PSNoteProperty(name, value)
    builds a throwaway PSObject and costs ten times more."""
    prop = PSNoteProperty(name)
    prop.set_value(value, owner)
    return prop


def make(
    type_names: list[str],
    to_string: str | None,
    adapted: dict[str, Any],
    extended: dict[str, Any] | None = None,
) -> PSObject:
    """A PSObject with the given .NET type chain, ToString and properties."""
    obj = PSObject()
    meta = obj.PSObject  # psrpcore's PSObjectMeta, which it does not export
    meta.type_names = [*type_names, "System.Object"]
    meta.adapted_properties = [note(k, v, obj) for k, v in adapted.items()]
    meta.extended_properties = [note(k, v, obj) for k, v in (extended or {}).items()]
    if to_string is not None:
        meta.to_string = to_string
    return obj


def with_note(value: Any, name: str, extra: Any, deserialized: bool = False) -> Any:
    """A copy of value with an extra note property (and the Deserialized. prefix a
    second hop adds), leaving shared cached objects untouched."""
    if isinstance(value, str):
        copy: PSObject = PSString(value)
    elif isinstance(value, PSObject) and not isinstance(value, (int, float)):
        src = value.PSObject
        copy = PSObject()
        meta = copy.PSObject
        prefix = "Deserialized." if deserialized else ""
        meta.type_names = [n if n.startswith(prefix) else prefix + n for n in src.type_names]
        meta.adapted_properties = [
            note(p.name, p.get_value(value), copy) for p in src.adapted_properties
        ]
        meta.extended_properties = [
            note(p.name, p.get_value(value), copy) for p in src.extended_properties
        ]
        meta.to_string = str(value)
    else:
        return value
    copy.PSObject.extended_properties.append(note(name, extra, copy))
    return copy


@lru_cache(maxsize=8192)
def services(host: HostFacts) -> tuple[PSObject, ...]:
    return tuple(
        make(
            [
                "System.ServiceProcess.ServiceController",
                "System.ComponentModel.Component",
                "System.MarshalByRefObject",
            ],
            svc.name,
            {
                "CanPauseAndContinue": False,
                "CanShutdown": svc.status == "Running",
                "CanStop": svc.status == "Running",
                "DisplayName": svc.display_name,
                "MachineName": ".",
                "ServiceName": svc.name,
                "Status": ServiceControllerStatus[svc.status],
                "ServiceType": svc.service_type,
                "StartType": ServiceStartMode[svc.start_type],
            },
            {"Name": svc.name},
        )
        for svc in host.services
    )


def processes(host: HostFacts, uptime_seconds: float) -> tuple[PSObject, ...]:
    """Processes; CPU grows with uptime, so these are rebuilt on every call."""
    scale = max(uptime_seconds, 1.0) / 86400.0
    return tuple(
        make(
            [
                "System.Diagnostics.Process",
                "System.ComponentModel.Component",
                "System.MarshalByRefObject",
            ],
            f"System.Diagnostics.Process ({p.name})",
            {
                "Id": p.pid,
                "ProcessName": p.name,
                "Handles": p.handles,
                "WorkingSet64": p.working_set,
                "MachineName": ".",
            },
            {
                "Name": p.name,
                "CPU": round(p.cpu_seconds * scale, 3),
                "WS": p.working_set,
                "Handles": p.handles,
            },
        )
        for p in host.processes
    )


@lru_cache(maxsize=8192)
def computer_info(host: HostFacts) -> PSObject:
    return make(
        ["Microsoft.PowerShell.Commands.ComputerInfo"],
        "Microsoft.PowerShell.Commands.ComputerInfo",
        {
            "WindowsProductName": host.os_product,
            "WindowsVersion": {14393: "1607", 17763: "1809", 20348: "2009"}.get(
                host.os_build, "2009"
            ),
            "WindowsBuildLabEx": f"{host.os_build}.{host.os_revision}",
            "CsName": host.name,
            "CsDomain": f"{host.fqdn.split('.', 1)[1]}",
            "CsDNSHostName": host.inventory_name.lower(),
            "CsPartOfDomain": True,
            "CsTotalPhysicalMemory": host.memory_kb * 1024,
            "OsName": host.os_caption,
            "OsVersion": host.os_version,
            "OsBuildNumber": str(host.os_build),
            "OsTotalVisibleMemorySize": host.memory_kb,
            "OsLastBootUpTime": host.boot_time,
            "OsArchitecture": "64-bit",
            "LogonServer": "\\\\DC01",
        },
    )


@lru_cache(maxsize=8192)
def cluster_nodes(host: HostFacts) -> tuple[PSObject, ...]:
    return tuple(
        make(
            [
                "Microsoft.FailoverClusters.PowerShell.ClusterNode",
                "Microsoft.FailoverClusters.PowerShell.ClusterObject",
            ],
            node,
            {
                "Name": node,
                "State": ClusterNodeState.Up,
                "Id": str(i + 1),
                "Cluster": host.cluster,
                "NodeWeight": 1,
            },
        )
        for i, node in enumerate(host.cluster_nodes)
    )


@lru_cache(maxsize=8192)
def cluster_groups(host: HostFacts) -> tuple[PSObject, ...]:
    nodes = host.cluster_nodes or (host.name,)
    groups = ("Available Storage", "Cluster Group", f"{host.cluster}-FS")
    return tuple(
        make(
            [
                "Microsoft.FailoverClusters.PowerShell.ClusterGroup",
                "Microsoft.FailoverClusters.PowerShell.ClusterObject",
            ],
            name,
            {
                "Name": name,
                "OwnerNode": nodes[i % len(nodes)],
                "State": ClusterGroupState.Online,
                "Cluster": host.cluster,
            },
        )
        for i, name in enumerate(groups)
    )


@lru_cache(maxsize=8192)
def psversion_table(host: HostFacts) -> dict[str, Any]:
    return {
        "PSVersion": PSVersion(host.ps_version),
        "PSEdition": "Desktop",
        "PSCompatibleVersions": [
            PSVersion(v) for v in ("1.0", "2.0", "3.0", "4.0", "5.0", host.ps_version)
        ],
        "BuildVersion": PSVersion(f"10.0.{host.os_build}.{host.os_revision}"),
        "CLRVersion": PSVersion("4.0.30319.42000"),
        "WSManStackVersion": PSVersion("3.0"),
        "PSRemotingProtocolVersion": PSVersion("2.3"),
        "SerializationVersion": PSVersion("1.1.0.1"),
    }


def file_item(parent: str, name: str, length: int | None, written: dt.datetime) -> PSObject:
    """A FileInfo (length given) or DirectoryInfo as Get-ChildItem returns them."""
    full = f"{parent.rstrip(chr(92))}\\{name}"
    kind = "System.IO.DirectoryInfo" if length is None else "System.IO.FileInfo"
    adapted: dict[str, Any] = {
        "Name": name,
        "FullName": full,
        "LastWriteTime": written,
        "Exists": True,
    }
    if length is not None:
        adapted["Length"] = length
    extended = {
        "PSPath": f"Microsoft.PowerShell.Core\\FileSystem::{full}",
        "PSIsContainer": length is None,
        "Mode": "d-----" if length is None else "-a----",
    }
    return make(
        [kind, "System.IO.FileSystemInfo", "System.MarshalByRefObject"], name, adapted, extended
    )


def custom(props: dict[str, Any], type_name: str | None = None) -> PSObject:
    """[PSCustomObject]@{...}, or a Select-Object result when type_name is given."""
    obj = PSCustomObject(**props)
    if type_name is not None:
        obj.PSObject.type_names.insert(0, type_name)
    return obj


def measure_info(count: int, prop: str | None, stats: dict[str, float | None]) -> PSObject:
    return make(
        [
            "Microsoft.PowerShell.Commands.GenericMeasureInfo",
            "Microsoft.PowerShell.Commands.MeasureInfo",
        ],
        "Microsoft.PowerShell.Commands.GenericMeasureInfo",
        {
            "Count": count,
            "Average": stats.get("Average"),
            "Sum": stats.get("Sum"),
            "Maximum": stats.get("Maximum"),
            "Minimum": stats.get("Minimum"),
            "Property": prop,
        },
    )


def host_information_message(
    text: str, no_newline: bool, foreground: str | None, background: str | None
) -> PSObject:
    """Write-Host's MessageData: the text and how the host should print it. A color not
    given is None: the session has no host whose default colors could be read."""
    return make(
        ["System.Management.Automation.HostInformationMessage"],
        text,
        {
            "Message": text,
            "NoNewLine": no_newline,
            "ForegroundColor": foreground,
            "BackgroundColor": background,
        },
    )

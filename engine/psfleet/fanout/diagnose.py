"""Name the double hop when a script hits it, and say what to do about it.

A session authenticated with NTLM, Basic or Kerberos without delegation holds no
credentials it can pass on: whatever the script asks of a second machine (nested
Invoke-Command, a UNC path, Test-Cluster) fails with "Access is denied". These are
the error ids Windows gives those failures; the remedy is CredSSP or Kerberos
delegation.

Only the finding is made here; fanout.status decides what it makes of the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_REMOTING_DENIED = ("AccessDenied,PSSessionStateBroken",)
_PATH_DENIED = ("DirUnauthorizedAccessError", "ItemExistsUnauthorizedAccessError")
_CLUSTER_DENIED = ("ClusterAccessDenied",)
_NODE_IN_MESSAGE = re.compile(r"node '([^']+)'", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DoubleHop:
    first_hop: str
    second_hop: str
    record: Any


def remedy(first_hop: str, second_hop: str) -> str:
    return (
        f"The session on {first_hop} has no credentials to pass on to {second_hop} (double hop). "
        "Either use CredSSP: on this machine `Enable-WSManCredSSP -Role Client -DelegateComputer "
        f"{first_hop}`, on {first_hop} `Enable-WSManCredSSP -Role Server`, then "
        f"`psfleet run --auth credssp --delegate-to {first_hop}`; or use Kerberos delegation: "
        f"`Set-ADComputer {second_hop} -PrincipalsAllowedToDelegateToAccount "
        f"(Get-ADComputer {first_hop})` (resource-based constrained delegation), or "
        "`psfleet run --auth kerberos --delegate` with a forwardable ticket."
    )


def _error_id(record: Any) -> str:
    return str(getattr(record, "fully_qualified_error_id", "") or "")


def _second_hop_of(record: Any) -> str | None:
    error_id = _error_id(record)
    target = getattr(record, "target_object", None) or getattr(record, "target_name", None)
    if error_id.startswith(_REMOTING_DENIED):
        return str(target) if target else None
    if error_id.startswith(_PATH_DENIED) and str(target or "").startswith("\\\\"):
        return str(target)[2:].split("\\", 1)[0]
    if error_id.startswith(_CLUSTER_DENIED):
        node = _NODE_IN_MESSAGE.search(str(getattr(record, "message", "")))
        return node.group(1) if node else (str(target) if target else "the cluster nodes")
    return None


def find_double_hop(first_hop: str, records: Iterable[Any]) -> DoubleHop | None:
    for record in records:
        second = _second_hop_of(record)
        if second and second.split(".", 1)[0].lower() != first_hop.split(".", 1)[0].lower():
            return DoubleHop(first_hop, second, record)
    return None

"""CredSSP's allowlist, checked on the client before any host goes to the cluster.

A host outside --delegate-to ends `auth_failed` (DelegationRefused) here, so it never
reaches a worker, whose transport would check it again anyway before a password leaves.
"""

from __future__ import annotations

from collections.abc import Sequence

from psfleet.errors import DelegationRefused, UsageError
from psfleet.events import HostDone, HostStatus
from psfleet.fanout.attempt import client_options_for, endpoint_for
from psfleet.fanout.options import RunOptions
from psfleet.targets.model import Target
from psfleet.transport.auth import check_credssp_allowed
from psfleet.transport.options import AuthMethod


def outside_allowlist(targets: Sequence[Target], options: RunOptions) -> list[HostDone]:
    """The final status of each CredSSP host the allowlist refuses (nothing sent to it)."""
    refused: list[HostDone] = []
    for target in targets:
        try:
            auth = client_options_for(target, options.client).auth
            if auth.method is not AuthMethod.CREDSSP:
                continue
            check_credssp_allowed(endpoint_for(target, options), auth)
        except DelegationRefused as exc:
            refused.append(
                HostDone(
                    target.name,
                    HostStatus.AUTH_FAILED,
                    0.0,
                    0,
                    type(exc).__name__,
                    str(exc),
                    exc.remedy,
                )
            )
        except UsageError:
            continue  # a bad inventory entry: its worker reports it, as a local run does
    return refused

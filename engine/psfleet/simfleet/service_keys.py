"""Each simulated host's own Kerberos service keys, as a Windows host has its machine account's.

`psfleet sim --keytab` takes one keytab holding every host's `HTTP/<host>` keys (what a
KDC exports). MIT's acceptor finds a ticket's key by reading its keytab from the start,
so with one shared keytab every accept scans the whole fleet's keys: 12.5 ms of CPU for
a host late in 1000 hosts' 2000 keys, against 0.09 ms with the host's own keytab. The
shared keytab is read once at start and split into one keytab per served host.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gssapi
import krb5
import spnego
from spnego.channel_bindings import GssChannelBindings

from psfleet.simfleet.hostfacts import HostFacts


def split_keytab(shared: Path, hosts: Iterable[HostFacts], into: Path) -> dict[str, Path]:
    """Write `into/<name>.keytab` with the keys of each host's SPNs (short name and FQDN).

    Returns the keytab of each host that has keys, by inventory name; a host without
    any accepts no Kerberos ticket, as a host whose SPN is not registered.
    """
    context = krb5.init_context()
    by_name: dict[str, list[Any]] = {}
    for entry in krb5.kt_resolve(context, f"FILE:{shared}".encode()):
        components = entry.principal.components
        if len(components) == 2:  # service/host
            by_name.setdefault(components[1].decode().lower(), []).append(entry)
    into.mkdir(parents=True, exist_ok=True)
    keytabs: dict[str, Path] = {}
    for facts in hosts:
        entries = [
            entry
            for name in {facts.inventory_name.lower(), facts.fqdn.lower()}
            for entry in by_name.get(name, ())
        ]
        if not entries:
            continue
        path = into / f"{facts.inventory_name.lower()}.keytab"
        path.unlink(missing_ok=True)  # a restarted fleet must not append to its old keys
        keytab = krb5.kt_resolve(context, f"FILE:{path}".encode())
        for entry in entries:
            krb5.kt_add_entry(
                context, keytab, entry.principal, entry.kvno, entry.timestamp, entry.key
            )
        keytabs[facts.inventory_name] = path
    return keytabs


def acceptor_credential(keytab: Path) -> gssapi.Credentials:
    """A GSSAPI acceptor credential that reads only this keytab."""
    return gssapi.Credentials(usage="accept", store={"keytab": f"FILE:{keytab}"})


# The header of a Kerberos AP-REQ context token (RFC 4121 4.1: the krb5 mechanism's OID,
# then TOK_ID 01 00), raw or as SPNEGO's optimistic mechToken.
_KERBEROS_AP_REQ = bytes.fromhex("06092a864886f712010202") + b"\x01\x00"


def carries_kerberos(token: bytes) -> bool:
    """Whether a Negotiate first token holds a Kerberos AP-REQ.

    pyspnego's Negotiate acceptor, given its sub-contexts, picks the first of them even
    when the initiator offered only NTLM; such a token goes to an acceptor built as
    without a keytab, which needs no service key.
    """
    return _KERBEROS_AP_REQ in token


class _Mech(enum.StrEnum):
    """The SPNEGO mechanisms by OID (RFC 4178), as pyspnego keys its sub-contexts."""

    kerberos = "1.2.840.113554.1.2.2"
    ntlm = "1.3.6.1.4.1.311.2.2.10"


def acceptor(
    protocol: str, credential: gssapi.Credentials, channel_bindings: GssChannelBindings | None
) -> Any:
    """A pyspnego acceptor ("kerberos" or "negotiate") whose Kerberos uses `credential`.

    pyspnego 0.12 (pinned) takes a server credential in its public API on Windows only;
    these are the keyword arguments its own `new_context()` uses to hand a context its
    GSSAPI credential and Negotiate its sub-contexts (NTLM as without a keytab).
    """
    kerberos = spnego.server(
        protocol="kerberos", channel_bindings=channel_bindings, _gssapi_credential=credential
    )
    if protocol == "kerberos":
        return kerberos
    ntlm = spnego.server(protocol="ntlm", channel_bindings=channel_bindings)
    return spnego.server(
        protocol="negotiate",
        channel_bindings=channel_bindings,
        _negotiate_contexts={_Mech.kerberos: kerberos, _Mech.ntlm: ntlm},
    )

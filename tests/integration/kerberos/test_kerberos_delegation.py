"""pyspnego client and acceptor against the real KDC: handshake, delegation, SPN errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gssapi
import pytest
import spnego
from spnego.exceptions import BadMechanismError, NoCredentialError, SpnegoError

from psfleet.testing.kdc import MitKdc

pytestmark = pytest.mark.kerberos

DELEGATE = spnego.ContextReq.default | spnego.ContextReq.delegate
# KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN in MIT's com_err table: "Server not found in Kerberos database".
KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN = 0x96C73A07


def handshake(client: spnego.ContextProxy, server: spnego.ContextProxy) -> None:
    token = client.step()
    while token is not None:
        token = server.step(token)
        if token is None:
            break
        token = client.step(token)
    assert client.complete
    assert server.complete


def gss_context(proxy: spnego.ContextProxy) -> gssapi.SecurityContext:
    # pyspnego has no public accessor for the delegated credential, and this file checks
    # that MIT really hands one over: reach the gssapi context through the proxies'
    # attribute. "kerberos" proxies hold it in _context; "negotiate" ones hold the
    # chosen mech's proxy there, which holds it.
    ctx: Any = proxy
    while not isinstance(ctx, gssapi.SecurityContext):
        ctx = ctx._context
    return ctx


def accept(
    hostname: str,
    protocol: str = "kerberos",
    *,
    context_req: spnego.ContextReq = spnego.ContextReq.default,
    username: spnego.KerberosCCache | None = None,
) -> spnego.ContextProxy:
    """One hop: a client for HTTP/<hostname> and an acceptor using KRB5_KTNAME."""
    client = spnego.client(
        username=username,
        hostname=hostname,
        service="HTTP",
        protocol=protocol,
        context_req=context_req,
    )
    server = spnego.server(protocol=protocol)
    handshake(client, server)
    return server


def without_own_tgt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A remote host does not hold the user's TGT: point the default ccache at an
    # empty one, so the second hop can only use what was delegated.
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'acceptor-empty-ccache'}")


def test_kerberos_handshake_names_the_client() -> None:
    server = accept("node01")
    assert server.client_principal == "admin@LAB.TEST"
    assert server.negotiated_protocol == "kerberos"
    assert not server.context_attr & spnego.ContextReq.delegate
    assert gss_context(server).delegated_creds is None


@pytest.mark.parametrize("protocol", ["kerberos", "negotiate"])
def test_delegation_gives_the_acceptor_a_usable_tgt(
    protocol: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = accept("node01", protocol, context_req=DELEGATE)
    assert server.context_attr & spnego.ContextReq.delegate
    delegated = gss_context(server).delegated_creds
    assert delegated is not None
    assert str(delegated.name) == "admin@LAB.TEST"
    assert delegated.usage == "initiate"

    without_own_tgt(monkeypatch, tmp_path)
    # Second hop with the raw gssapi credential: the KDC must issue a ticket for
    # HTTP/node02 from the forwarded TGT.
    hop2 = gssapi.SecurityContext(
        name=gssapi.Name("HTTP@node02", name_type=gssapi.NameType.hostbased_service),
        creds=delegated,
        usage="initiate",
        mech=gssapi.MechType.kerberos,
    )
    node02 = spnego.server(protocol="kerberos")
    node02.step(hop2.step())
    assert node02.complete
    assert node02.client_principal == "admin@LAB.TEST"

    # Same hop through pyspnego's public API: store the creds in a ccache first.
    ccache = f"FILE:{tmp_path / 'delegated-ccache'}"
    delegated.store(store={"ccache": ccache}, usage="initiate", overwrite=True)
    server2 = accept("node02", username=spnego.KerberosCCache(ccache=ccache))
    assert server2.client_principal == "admin@LAB.TEST"


@pytest.mark.parametrize("protocol", ["kerberos", "negotiate"])
def test_without_delegation_there_is_no_second_hop(
    protocol: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = accept("node01", protocol)
    assert not server.context_attr & spnego.ContextReq.delegate
    assert gss_context(server).delegated_creds is None

    without_own_tgt(monkeypatch, tmp_path)
    with pytest.raises(NoCredentialError):
        spnego.client(hostname="node02", service="HTTP", protocol="kerberos").step()


def test_non_forwardable_tgt_is_not_delegated(
    kdc: MitKdc, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Asking for delegation is not enough: MIT only forwards a forwardable TGT (kinit -f).
    ccache = f"FILE:{tmp_path / 'plain-ccache'}"
    kdc.kinit(forwardable=False, ccache=ccache)
    monkeypatch.setenv("KRB5CCNAME", ccache)
    server = accept("node01", context_req=DELEGATE)
    assert server.client_principal == "admin@LAB.TEST"
    assert not server.context_attr & spnego.ContextReq.delegate
    assert gss_context(server).delegated_creds is None


def test_negotiate_picks_kerberos() -> None:
    client = spnego.client(hostname="node01", service="HTTP", protocol="negotiate")
    server = spnego.server(protocol="negotiate")
    handshake(client, server)
    assert client.negotiated_protocol == "kerberos"
    assert server.negotiated_protocol == "kerberos"
    assert server.client_principal == "admin@LAB.TEST"


def test_fqdn_spn_is_registered_too() -> None:
    assert accept("node01.lab.test").client_principal == "admin@LAB.TEST"


def test_unknown_spn_negotiate_fails_with_bad_mechanism() -> None:
    client = spnego.client(hostname="ghost", service="HTTP", protocol="negotiate")
    with pytest.raises(BadMechanismError) as info:
        client.step()
    assert "not found in Kerberos database" in str(info.value)


def test_unknown_spn_kerberos_fails_with_the_kdc_error() -> None:
    client = spnego.client(hostname="ghost", service="HTTP", protocol="kerberos")
    with pytest.raises(SpnegoError) as info:
        client.step()
    # pyspnego has no dedicated type for this; the gssapi error underneath carries the KDC code.
    base = info.value.base_error
    assert isinstance(base, gssapi.raw.GSSError)
    assert base.min_code == KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN


def host_acceptor(
    kdc: MitKdc, monkeypatch: pytest.MonkeyPatch, host: str, protocol: str = "kerberos"
) -> spnego.ContextProxy:
    """An acceptor holding only this host's keys (fast at any fleet size).

    MIT reads KRB5_KTNAME each time an acceptor acquires its credential, so pyspnego's
    public server() takes the host's keytab from it.
    """
    monkeypatch.setenv("KRB5_KTNAME", f"FILE:{kdc.keytab_for(host)}")
    return spnego.server(protocol=protocol)


@pytest.mark.parametrize("protocol", ["kerberos", "negotiate"])
def test_per_host_keytab_acceptor_delegates_too(
    kdc: MitKdc, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = spnego.client(
        hostname="node01", service="HTTP", protocol=protocol, context_req=DELEGATE
    )
    server = host_acceptor(kdc, monkeypatch, "node01", protocol)
    handshake(client, server)
    assert server.client_principal == "admin@LAB.TEST"
    assert server.context_attr & spnego.ContextReq.delegate
    assert gss_context(server).delegated_creds is not None


def test_per_host_keytab_refuses_another_hosts_ticket(
    kdc: MitKdc, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client that built its SPN for node02 but reached node01's address.
    client = spnego.client(hostname="node02", service="HTTP", protocol="kerberos")
    server = host_acceptor(kdc, monkeypatch, "node01")
    # MIT refuses it ("HTTP/node02 not found in keytab"). python-gssapi's step then
    # returns the KRB-ERROR token and keeps the error for the next property read, so
    # pyspnego 0.12.4 fails reading the flags with AttributeError, and any later read
    # of the context (even .complete) raises the GSSError. An acceptor must treat all
    # of these as "auth failed" and drop the context without touching it.
    with pytest.raises((SpnegoError, gssapi.raw.GSSError, AttributeError)):
        server.step(client.step())
    with pytest.raises(gssapi.raw.GSSError, match="not found in keytab"):
        _ = server.complete

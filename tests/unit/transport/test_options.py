"""Credentials come from arguments, the environment or the Kerberos cache, and never show."""

from __future__ import annotations

import pytest

from psfleet import errors
from psfleet.client import client_options, resolve_credential
from psfleet.transport import AuthMethod, Credential, Endpoint, Timeouts
from psfleet.transport.options import Wait

SECRET = "Sup3r-S3cret!"


def test_secrets_never_appear_in_reprs() -> None:
    options = client_options(auth="ntlm", credential=("LAB\\admin", SECRET))
    for text in (repr(options), str(options), repr(options.auth), str(options.auth.credential)):
        assert SECRET not in text
    assert "LAB\\\\admin" in repr(options.auth.credential)


def test_credential_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PSFLEET_USER", "LAB\\ops")
    monkeypatch.setenv("PSFLEET_PASSWORD", SECRET)
    assert resolve_credential(None, AuthMethod.NTLM) == Credential("LAB\\ops", SECRET)
    assert resolve_credential("env", AuthMethod.BASIC) == Credential("LAB\\ops", SECRET)


def test_without_a_credential_kerberos_uses_the_ticket_cache(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PSFLEET_USER", raising=False)
    assert resolve_credential(None, AuthMethod.KERBEROS) == Credential(None, None)
    assert resolve_credential(None, AuthMethod.CERTIFICATE) is None
    with pytest.raises(errors.UsageError, match="ntlm auth needs a credential"):
        resolve_credential(None, AuthMethod.NTLM)
    with pytest.raises(errors.UsageError):
        resolve_credential("env", AuthMethod.NTLM)


def test_endpoint_urls() -> None:
    assert Endpoint("node01").url == "http://node01:5985/wsman"
    assert Endpoint("node01", address="10.0.0.5", tls=True).url == "https://10.0.0.5:5986/wsman"
    assert Endpoint("n", address="fe80::1", port=1).url == "http://[fe80::1]:1/wsman"


def test_a_long_poll_waits_longer_than_the_server_holds_it() -> None:
    timeouts = Timeouts(request=5, operation=20, close=3)
    assert timeouts.seconds(Wait.RECEIVE) > timeouts.operation
    assert timeouts.seconds(Wait.REQUEST) == 5
    assert timeouts.seconds(Wait.CLOSE) == 3

"""The lockout guard's rules case by case, without sockets; Windows user names as principals."""

from __future__ import annotations

import anyio
import pytest

from psfleet.errors import AuthError
from psfleet.transport.credentials import CredentialBroker, CredentialWithheld
from psfleet.transport.kerberos import principal_name, realm_of
from psfleet.transport.options import AuthMethod, AuthOptions, Credential

pytestmark = pytest.mark.anyio
NTLM = AuthOptions(method=AuthMethod.NTLM, credential=Credential("LAB\\admin", "pw"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def reject(broker: CredentialBroker, host: str) -> None:
    async with broker.gate(NTLM).presenting(host) as presentation:
        presentation.reject()


async def test_the_credential_is_withheld_after_max_auth_failures_distinct_hosts() -> None:
    broker = CredentialBroker(max_auth_failures=2)
    await reject(broker, "node01")
    await reject(broker, "node01")  # the same host again is not a second proof
    await broker.gate(NTLM).plan(NTLM, "node02")
    await reject(broker, "node02")
    with pytest.raises(CredentialWithheld, match=r"rejected 2 times \(lockout guard\)") as raised:
        await broker.gate(NTLM).plan(NTLM, "node03")
    assert raised.value.host == "node03"


async def test_rejections_after_an_acceptance_are_the_hosts_own() -> None:
    broker = CredentialBroker(max_auth_failures=1)
    async with broker.gate(NTLM).presenting("node01") as presentation:
        presentation.accept()
    await reject(broker, "node02")
    await reject(broker, "node03")
    plan = await broker.gate(NTLM).plan(NTLM, "node04")
    assert plan.guarded and not plan.blocking


async def test_until_accepted_one_presentation_at_a_time_then_all_at_once() -> None:
    broker = CredentialBroker()
    gate = broker.gate(NTLM)
    inside = 0
    most = 0

    async def present(host: str, accept: bool) -> None:
        nonlocal inside, most
        async with gate.presenting(host) as presentation:
            inside += 1
            most = max(most, inside)
            await anyio.sleep(0.01)
            inside -= 1
            if accept:
                presentation.accept()

    async with anyio.create_task_group() as group:
        for n in range(5):
            group.start_soon(present, f"node{n}", False)
    assert most == 1  # nothing accepted yet: strictly one at a time
    await present("first", True)
    most = 0
    async with anyio.create_task_group() as group:
        for n in range(5):
            group.start_soon(present, f"later{n}", False)
    assert most == 5  # accepted once: no turn-taking any more


async def test_credentials_are_guarded_separately() -> None:
    broker = CredentialBroker(max_auth_failures=1)
    await reject(broker, "node01")
    other = AuthOptions(method=AuthMethod.NTLM, credential=Credential("LAB\\other", "pw"))
    await broker.gate(other).plan(other, "node02")
    with pytest.raises(CredentialWithheld):
        await broker.gate(NTLM).plan(NTLM, "node02")


async def test_a_ticket_cache_credential_has_no_password_to_guard() -> None:
    broker = CredentialBroker()
    cache = AuthOptions(method=AuthMethod.KERBEROS, credential=Credential(None, None))
    plan = await broker.gate(cache).plan(cache, "node01")
    assert plan.blocking and not plan.guarded and plan.credentials is None


def test_withheld_is_an_auth_failure_with_a_remedy() -> None:
    error = CredentialWithheld("not tried", host="node01", remedy="check")
    assert isinstance(error, AuthError) and error.status.value == "auth_failed"


@pytest.mark.parametrize(
    ("username", "principal"),
    [
        ("LAB\\admin", "admin@LAB"),
        ("lab\\admin", "admin@LAB"),
        ("admin@lab.test", "admin@LAB.TEST"),
        ("admin", "admin"),
    ],
)
def test_windows_user_names_map_to_kerberos_principals(username: str, principal: str) -> None:
    assert principal_name(username) == principal


def test_realm_of_a_principal() -> None:
    assert realm_of("admin@LAB.TEST") == "LAB.TEST"
    assert realm_of("admin") is None

"""The auth handshake's decisions for Kerberos, without sockets: a real ticket from the MIT
KDC, the client context a channel builds, and simfleet's acceptor in memory."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from psfleet.simfleet.accounts import default_accounts
from psfleet.simfleet.auth import AuthPolicy, ConnectionAuth
from psfleet.simfleet.lockout import AccountLockout
from psfleet.transport.auth import SecurityContext
from psfleet.transport.credentials import AuthPlan
from psfleet.transport.handshake import Action, Done, Fail, Handshake, Send, Step
from psfleet.transport.options import AuthMethod, AuthOptions, Credential, Endpoint

pytestmark = [pytest.mark.anyio, pytest.mark.kerberos]
KERBEROS = AuthOptions(method=AuthMethod.KERBEROS, credential=Credential.kerberos_cache())


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    www_authenticate: str | None
    body: bytes = b""
    new_connection: bool = False
    reason: str = ""


async def handshake_with(
    connection: ConnectionAuth, *, drop_final_token: bool = False
) -> tuple[Action, list[Send], SecurityContext]:
    accounts = default_accounts()
    policy = AuthPolicy(
        accounts,
        lockout=AccountLockout(accounts),
        tls=False,
        allow_unencrypted=False,
        credssp=False,
    )
    # The kinit cache of the fixture: the service ticket request is a KDC exchange, off the loop.
    plan = AuthPlan(None, blocking=True, guarded=False)
    client = await SecurityContext.start(Endpoint("node01"), KERBEROS, plan, encrypt=True)
    handshake = Handshake(KERBEROS, "node01", guarded=plan.guarded)
    action: Action = handshake.start()
    legs = []
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            action = handshake.stepped(await client.step(action.token), complete=client.complete)
            continue
        legs.append(action)
        step = policy.step(action.authorization, connection)
        token = None if drop_final_token else step.www_authenticate
        action = handshake.answered(Answer(step.status, token))
    return action, legs, client


async def test_the_mutual_auth_token_on_the_200_finishes_the_context() -> None:
    connection = ConnectionAuth()
    action, legs, client = await handshake_with(connection)
    assert action == Done(carried=False)  # the client finishes last: the message follows
    assert [(leg.carry, leg.proves) for leg in legs] == [(False, False)]  # a ticket, no password
    assert legs[0].authorization.startswith("Negotiate ")
    assert client.complete
    assert connection.identity is not None and connection.identity.auth == "kerberos"


async def test_a_200_without_the_mutual_auth_token_is_an_unfinished_handshake() -> None:
    action, _, client = await handshake_with(ConnectionAuth(), drop_final_token=True)
    assert isinstance(action, Fail) and not action.rejected
    assert action.error.message == "the host accepted an unfinished handshake"
    assert not client.complete

"""The auth handshake's decisions, without sockets: real pyspnego client contexts against
simfleet's acceptor (AuthPolicy, the same code a simulated host runs) in memory."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import pytest
import spnego

from psfleet.errors import AuthError, ConnectError, HTTPStatusError, ProtocolError, QuotaExceeded
from psfleet.simfleet.accounts import Account, Accounts
from psfleet.simfleet.auth import AuthPolicy, ConnectionAuth
from psfleet.simfleet.lockout import AccountLockout
from psfleet.transport.auth import SecurityContext
from psfleet.transport.credentials import AUTH_FAILED_REMEDY, AuthPlan
from psfleet.transport.handshake import (
    Action,
    Done,
    Fail,
    Handshake,
    Send,
    StartOver,
    Step,
    offered_schemes,
)
from psfleet.transport.options import AuthMethod, AuthOptions, Credential, Endpoint
from psfleet.wsman import FaultCode, build_fault

pytestmark = pytest.mark.anyio
USER = "LAB\\admin"
PASSWORD = "Right-Passw0rd"
NODE = Endpoint("node01")
QUOTA_FAULT = build_fault(
    FaultCode.QUOTA_MAX_SHELLS,
    "This user is allowed a maximum number of 30 concurrent shells, which has been exceeded.",
    relates_to="",
    machine="node01",
)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    www_authenticate: str | None = None
    body: bytes = b""
    new_connection: bool = False
    reason: str = ""


class SimulatedHost:
    """What simfleet's HTTP app answers to each leg, without its sockets.

    A refused leg gets the 401 of the acceptor, or the host's offers when it has no
    token to send (as Windows does); an accepted leg that carried the message gets a reply.
    """

    def __init__(self, domain: Domain, *, credssp: bool = True) -> None:
        self.policy = AuthPolicy(
            domain.accounts,
            lockout=domain.lockout,
            tls=False,
            allow_unencrypted=False,
            credssp=credssp,
        )
        self.connection = ConnectionAuth()
        self.refusals = 0

    def answer(self, leg: Send) -> Answer:
        step = self.policy.step(leg.authorization, self.connection)
        self.refusals += step.failed
        if step.status == 401:
            return Answer(401, step.www_authenticate or ", ".join(self.policy.offered()))
        return Answer(200, step.www_authenticate, b"<reply/>" if leg.carry else b"")


class Scripted:
    """A host that answers from a list, whatever it is sent."""

    def __init__(self, *answers: Answer) -> None:
        self._answers = list(answers)

    def answer(self, leg: Send) -> Answer:
        return self._answers.pop(0)


@dataclass(frozen=True, slots=True)
class Domain:
    """The simulated domain's one account, as every simulated host checks it."""

    accounts: Accounts
    lockout: AccountLockout

    def bad_passwords(self) -> int:
        count: int = self.lockout.snapshot()[USER]["bad_password_count"]
        return count


@pytest.fixture
def domain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Domain:
    accounts = Accounts([Account("LAB", "admin", PASSWORD)])
    monkeypatch.setenv("NTLM_USER_FILE", str(accounts.write_ntlm_file(tmp_path / "users")))
    return Domain(accounts, AccountLockout(accounts))


def options(method: AuthMethod, password: str = PASSWORD) -> AuthOptions:
    return AuthOptions(
        method=method, credential=Credential(USER, password), credssp_allowed=lambda _: True
    )


def context(auth: AuthOptions, protocol: str | None = "ntlm") -> SecurityContext:
    """The client context a channel builds on plain HTTP when no KDC answers (protocol
    None: SPNEGO around NTLM, which ends with the host's mechListMIC on the 200)."""
    assert auth.credential is not None and auth.credential.password is not None
    password = spnego.Password(USER, auth.credential.password)
    plan = AuthPlan([password], blocking=False, guarded=True, protocol=protocol)
    return SecurityContext(NODE, auth, plan, encrypt=True)


async def drive(
    handshake: Handshake, client: SecurityContext, host: SimulatedHost | Scripted
) -> tuple[Action, list[Send]]:
    """The channel's loop without its I/O: step the context, answer each leg."""
    action: Action = handshake.start()
    legs = []
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            try:
                out = await client.step(action.token)
            except AuthError as error:
                action = handshake.step_failed(error)
                continue
            action = handshake.stepped(out, complete=client.complete)
        else:
            legs.append(action)
            action = handshake.answered(host.answer(action))
    return action, legs


def shape(legs: list[Send]) -> list[tuple[str, bool, bool]]:
    return [(leg.authorization.split(" ")[0], leg.carry, leg.proves) for leg in legs]


# -- accepted -------------------------------------------------------------------------------


async def test_ntlm_takes_one_challenge_and_the_message_rides_with_the_proof(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    host = SimulatedHost(domain)
    action, legs = await drive(Handshake(auth, "node01", guarded=True), context(auth), host)
    assert action == Done(carried=True)
    # The NEGOTIATE names no password; the AUTHENTICATE proves it, so it takes the turn.
    assert shape(legs) == [("Negotiate", False, False), ("Negotiate", True, True)]
    assert host.connection.identity is not None
    assert host.connection.identity.user == USER


async def test_not_eager_every_leg_is_bodiless_and_the_message_follows(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    handshake = Handshake(auth, "node01", guarded=True, eager=False)
    action, legs = await drive(handshake, context(auth), SimulatedHost(domain))
    assert action == Done(carried=False)
    assert shape(legs) == [("Negotiate", False, False), ("Negotiate", False, True)]


async def test_the_last_token_rides_on_the_200_and_finishes_the_context(
    domain: Domain,
) -> None:
    # SPNEGO's mechListMIC, like Kerberos' mutual auth: the client is not done when the
    # host is, so nothing is carried and the host's 200 carries a token to step.
    auth = options(AuthMethod.NEGOTIATE)
    client = context(auth, protocol=None)
    action, legs = await drive(
        Handshake(auth, "node01", guarded=True), client, SimulatedHost(domain)
    )
    assert action == Done(carried=False)
    assert shape(legs) == [("Negotiate", False, False), ("Negotiate", False, True)]
    assert client.complete


async def test_credssp_runs_its_legs_under_its_own_scheme(domain: Domain) -> None:
    auth = options(AuthMethod.CREDSSP)
    host = SimulatedHost(domain)
    action, legs = await drive(Handshake(auth, "node01", guarded=True), context(auth), host)
    assert action == Done(carried=True)
    assert {name for name, _, _ in shape(legs)} == {"CredSSP"}
    assert len(legs) == 5
    assert [leg.proves for leg in legs] == [False, True, True, True, True]
    assert [leg.carry for leg in legs] == [False, False, False, False, True]
    assert host.connection.identity is not None and host.connection.identity.delegable


async def test_a_host_that_ignores_the_carried_message_means_start_over(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    host = SimulatedHost(domain)
    handshake = Handshake(auth, "node01", guarded=True)
    action: Action = handshake.start()
    client = context(auth)
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            action = handshake.stepped(await client.step(action.token), complete=client.complete)
        else:
            answer = host.answer(action)
            if action.carry:
                answer = Answer(200)  # accepted, but no reply to the message
            action = handshake.answered(answer)
    assert action == StartOver()


async def test_a_non_200_to_the_carried_message_is_the_requests_answer(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    handshake = Handshake(auth, "node01", guarded=True)
    client = context(auth)
    host = SimulatedHost(domain)
    first = handshake.start()
    leg = handshake.stepped(await client.step(first.token), complete=client.complete)
    assert isinstance(leg, Send)
    challenge = handshake.answered(host.answer(leg))
    assert isinstance(challenge, Step)
    proof = handshake.stepped(await client.step(challenge.token), complete=client.complete)
    assert isinstance(proof, Send) and proof.carry
    assert host.answer(proof).status == 200  # the host accepts the proof...
    # ...and its service answers the message with a fault: the channel's caller reads it.
    assert handshake.answered(Answer(500, body=QUOTA_FAULT)) == Done(carried=True)


# -- refused --------------------------------------------------------------------------------


@pytest.mark.parametrize("eager", [True, False])
@pytest.mark.parametrize("method", [AuthMethod.NTLM, AuthMethod.NEGOTIATE])
async def test_a_bare_401_to_the_proof_is_a_rejected_credential(
    domain: Domain, method: AuthMethod, eager: bool
) -> None:
    auth = options(method, password="Wrong-Passw0rd")
    host = SimulatedHost(domain)
    protocol = "ntlm" if method is AuthMethod.NTLM else None
    handshake = Handshake(auth, "node01", guarded=True, eager=eager)
    action, legs = await drive(handshake, context(auth, protocol), host)
    assert isinstance(action, Fail)
    assert action.rejected  # counted against the credential by the lockout guard
    assert type(action.error) is AuthError
    assert action.error.message == f"the host rejected the {method.value} credentials for {USER}"
    assert action.error.host == "node01"
    assert action.error.remedy == AUTH_FAILED_REMEDY
    assert len(legs) == 2 and legs[-1].proves
    assert host.refusals == 1
    assert domain.bad_passwords() == 1


async def test_credssp_error_tsrequest_counts_as_a_rejection(domain: Domain) -> None:
    # The host answers the wrong password with a 401 whose token is a TSRequest carrying
    # the logon failure: the client's step fails on it, after the proof went out.
    auth = options(AuthMethod.CREDSSP, password="Wrong-Passw0rd")
    host = SimulatedHost(domain)
    action, legs = await drive(Handshake(auth, "node01", guarded=True), context(auth), host)
    assert isinstance(action, Fail)
    assert action.rejected
    assert type(action.error) is AuthError
    assert action.error.message.startswith("authentication failed: ")
    assert "Wrong-Passw0rd" not in str(action.error)
    assert legs[-1].proves and not legs[-1].carry
    assert host.refusals == 1


async def test_a_401_before_any_proof_does_not_count_against_the_credential(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    handshake = Handshake(auth, "node01", guarded=True)
    action, legs = await drive(handshake, context(auth), Scripted(Answer(401, "Negotiate")))
    assert isinstance(action, Fail) and not action.rejected
    assert action.error.message == f"the host rejected the ntlm credentials for {USER}"
    assert shape(legs) == [("Negotiate", False, False)]


async def test_a_user_from_the_ticket_cache_is_not_named() -> None:
    auth = AuthOptions(method=AuthMethod.KERBEROS, credential=Credential.kerberos_cache())
    handshake = Handshake(auth, "node01", guarded=False)
    handshake.start()
    leg = handshake.stepped(b"AP-REQ", complete=False)
    assert isinstance(leg, Send) and not leg.proves
    action = handshake.answered(Answer(401, "Negotiate, Kerberos"))
    assert isinstance(action, Fail) and not action.rejected
    assert action.error.message == "the host rejected the kerberos credentials"


@pytest.mark.parametrize(
    ("method", "offers", "named"),
    [
        (AuthMethod.NTLM, 'Basic realm="WSMAN"', "Negotiate"),
        (AuthMethod.NEGOTIATE, 'Kerberos, Basic realm="WSMAN"', "Negotiate"),
        (AuthMethod.CREDSSP, "Negotiate, Kerberos", "CredSSP"),
    ],
)
async def test_a_scheme_the_host_does_not_offer_is_named_with_a_remedy(
    domain: Domain, method: AuthMethod, offers: str, named: str
) -> None:
    auth = options(method)
    action, legs = await drive(
        Handshake(auth, "node01", guarded=True), context(auth), Scripted(Answer(401, offers))
    )
    assert isinstance(action, Fail) and not action.rejected
    offered = ", ".join(sorted(offered_schemes(offers)))
    assert action.error.message == (
        f"the host does not offer {named} authentication (it offers: {offered})"
    )
    assert isinstance(action.error, AuthError) and action.error.remedy
    assert len(legs) == 1


async def test_a_proof_answered_with_other_schemes_only_counts_as_a_rejection(
    domain: Domain,
) -> None:
    # SPNEGO is still unfinished after its proof, so the offers are read again.
    auth = options(AuthMethod.NEGOTIATE)
    host = SimulatedHost(domain)
    handshake = Handshake(auth, "node01", guarded=True)
    client = context(auth, protocol=None)
    action: Action = handshake.start()
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            action = handshake.stepped(await client.step(action.token), complete=client.complete)
        elif action.proves:
            action = handshake.answered(Answer(401, 'Basic realm="WSMAN"'))
        else:
            action = handshake.answered(host.answer(action))
    assert isinstance(action, Fail) and action.rejected
    assert action.error.message == (
        "the host does not offer Negotiate authentication (it offers: basic)"
    )


async def test_credssp_not_enabled_on_the_host(domain: Domain) -> None:
    auth = options(AuthMethod.CREDSSP)
    host = SimulatedHost(domain, credssp=False)
    action, _ = await drive(Handshake(auth, "node01", guarded=True), context(auth), host)
    assert isinstance(action, Fail)
    assert action.error.message == (
        "the host does not offer CredSSP authentication (it offers: kerberos, negotiate)"
    )
    assert isinstance(action.error, AuthError)
    assert action.error.remedy is not None and "Enable-WSManCredSSP" in action.error.remedy


async def test_a_host_that_keeps_challenging_ends_after_max_legs() -> None:
    auth = options(AuthMethod.NTLM)
    handshake = Handshake(auth, "node01", guarded=True, max_legs=3)
    action: Action = handshake.start()
    legs = 0
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            action = handshake.stepped(b"more", complete=False)
        else:
            legs += 1
            action = handshake.answered(Answer(401, "Negotiate Y2hhbGxlbmdl"))
    assert legs == 3
    assert isinstance(action, Fail) and not action.rejected
    assert type(action.error) is AuthError
    assert action.error.message == "the auth handshake did not finish"


# -- broken answers -------------------------------------------------------------------------


async def test_a_token_that_is_not_base64_is_a_protocol_error_not_a_rejection(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NTLM)
    host = SimulatedHost(domain)
    handshake = Handshake(auth, "node01", guarded=True, eager=False)
    client = context(auth)
    action: Action = handshake.start()
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            action = handshake.stepped(await client.step(action.token), complete=client.complete)
        elif action.proves:
            action = handshake.answered(Answer(401, "Negotiate abc=de!"))
        else:
            action = handshake.answered(host.answer(action))
    assert isinstance(action, Fail) and not action.rejected
    assert type(action.error) is ProtocolError
    assert action.error.message == "the host sent an auth token that is not base64"


async def test_a_host_that_closes_the_connection_mid_handshake(domain: Domain) -> None:
    auth = options(AuthMethod.NTLM)
    handshake = Handshake(auth, "node01", guarded=True)
    client = context(auth)
    host = SimulatedHost(domain)
    first = handshake.start()
    leg = handshake.stepped(await client.step(first.token), complete=False)
    assert isinstance(leg, Send)
    # The first leg may open the connection; a later one must not.
    challenge = handshake.answered(_with_new_connection(host.answer(leg)))
    assert isinstance(challenge, Step)
    proof = handshake.stepped(await client.step(challenge.token), complete=client.complete)
    assert isinstance(proof, Send)
    action = handshake.answered(_with_new_connection(host.answer(proof)))
    assert isinstance(action, Fail) and not action.rejected
    assert type(action.error) is ConnectError
    assert action.error.message == "the host closed the connection during authentication"


def _with_new_connection(answer: Answer) -> Answer:
    return Answer(answer.status, answer.www_authenticate, answer.body, new_connection=True)


@pytest.mark.parametrize(
    ("answer", "error_type", "message"),
    [
        (
            Answer(503, reason="Service Unavailable"),
            HTTPStatusError,
            "HTTP 503 Service Unavailable",
        ),
        (Answer(500, body=QUOTA_FAULT), QuotaExceeded, "maximum number of 30 concurrent shells"),
    ],
)
async def test_an_error_status_to_a_bodiless_leg_is_the_hosts_error(
    domain: Domain, answer: Answer, error_type: type[Exception], message: str
) -> None:
    auth = options(AuthMethod.NTLM)
    action, _ = await drive(
        Handshake(auth, "node01", guarded=True), context(auth), Scripted(answer)
    )
    assert isinstance(action, Fail) and not action.rejected
    assert type(action.error) is error_type
    assert message in action.error.message
    assert action.error.host == "node01"


async def test_a_200_that_leaves_the_context_unfinished(domain: Domain) -> None:
    auth = options(AuthMethod.NTLM)
    action, _ = await drive(
        Handshake(auth, "node01", guarded=True), context(auth), Scripted(Answer(200))
    )
    assert isinstance(action, Fail) and not action.rejected
    assert action.error.message == "the host accepted an unfinished handshake"


async def test_a_corrupt_last_token_on_the_200_fails_without_counting(
    domain: Domain,
) -> None:
    auth = options(AuthMethod.NEGOTIATE)
    host = SimulatedHost(domain)
    client = context(auth, protocol=None)
    handshake = Handshake(auth, "node01", guarded=True)
    action: Action = handshake.start()
    while isinstance(action, Step | Send):
        if isinstance(action, Step):
            try:
                out = await client.step(action.token)
            except AuthError as error:
                action = handshake.step_failed(error)
                continue
            action = handshake.stepped(out, complete=client.complete)
        else:
            answer = host.answer(action)
            if answer.status == 200 and answer.www_authenticate:
                token = bytearray(base64.b64decode(answer.www_authenticate.split(" ")[1]))
                token[-1] ^= 0xFF  # the mechListMIC no longer verifies
                corrupt = "Negotiate " + base64.b64encode(bytes(token)).decode()
                answer = Answer(200, corrupt)
            action = handshake.answered(answer)
    # The host accepted the proof: its own broken answer is no verdict on the password.
    assert isinstance(action, Fail) and not action.rejected
    assert type(action.error) is AuthError
    assert action.error.message.startswith("authentication failed: ")


async def test_an_opening_step_without_a_token() -> None:
    handshake = Handshake(options(AuthMethod.NTLM), "node01", guarded=True)
    handshake.start()
    action = handshake.stepped(None, complete=False)
    assert isinstance(action, Fail) and not action.rejected
    assert action.error.message == "the auth handshake produced no token"


def test_calls_out_of_order_are_a_bug_in_the_driver() -> None:
    handshake = Handshake(options(AuthMethod.NTLM), "node01", guarded=True)
    with pytest.raises(RuntimeError, match=r"answered\(\) called while idle"):
        handshake.answered(Answer(200))
    handshake.start()
    with pytest.raises(RuntimeError, match=r"start\(\) called while stepping the opening token"):
        handshake.start()


def test_no_token_shows_in_a_repr() -> None:
    leg = Send("Negotiate TlRMTVNTUAADAAAA", carry=True, proves=True)
    assert "TlRMTVNTUAADAAAA" not in repr(leg)
    assert "AAAA" not in repr(Step(b"secret-ish"))

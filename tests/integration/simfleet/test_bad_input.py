"""Bad input gets a Windows fault or a 4xx: never a crash, never trouble for other hosts.

Every test sends its garbage to node01; the fixture then checks that node01 and node02
still run a command and that nothing was logged as an unhandled exception.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
import requests
import spnego
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError
from raw_wsman import PASSWORD, USER, Answer, RawPeer

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.transport import framing
from psfleet.wsman import build_request, names, shell

INVALID_XML = 2150858819
ACTION_NOT_SUPPORTED = 2150858771
SHELL_NOT_FOUND = 2150858843
INVALID_COMMAND_HANDLE = 2150859085
RESOURCE_NOT_FOUND = 2150858752


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(hosts=2, base_address="127.1.34.1", port=0, allow_unencrypted=True)
    with fleet_in_thread(config) as running:
        yield running


@pytest.fixture
def peer(fleet: ThreadedFleet, caplog: pytest.LogCaptureFixture) -> Iterator[RawPeer]:
    """A Basic-auth peer of node01; afterwards both hosts must still serve, and the server
    must have logged no error (aiohttp logs an unhandled handler exception as one)."""
    caplog.set_level(logging.WARNING)
    yield RawPeer(fleet.hosts[0], timeout_s=5)
    for index, name in enumerate(("NODE01", "NODE02")):
        host = fleet.hosts[index]
        client = Client(
            host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth="ntlm"
        )
        output, _, had_errors = client.execute_ps("hostname")
        assert output == name and not had_errors
        assert fleet.stats(host.name)["shells_open"] == 0
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def assert_fault(answer: Answer, code: int) -> None:
    assert answer.status == 500, answer.body[:300]
    assert answer.fault_code == code


def envelope(action: str, body: str, **headers: object) -> bytes:
    data, _ = build_request(
        action=action,
        to="http://node01/wsman",
        resource_uri=names.RESOURCE_POWERSHELL,
        body=body,
        **headers,  # type: ignore[arg-type]
    )
    return data


@pytest.mark.parametrize(
    "body",
    [
        b"<s:Envelope",
        b"not xml at all",
        b"\xff\xfe\x00garbage",
        b'<?xml version="1.0"?><Envelope/>',
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>',
    ],
)
def test_malformed_xml_is_an_invalid_xml_fault(peer: RawPeer, body: bytes) -> None:
    assert_fault(peer.post(body), INVALID_XML)


def test_unknown_action_is_action_not_supported(peer: RawPeer) -> None:
    answer = peer.post(envelope("http://schemas.example.org/Frobnicate", ""))
    assert_fault(answer, ACTION_NOT_SUPPORTED)
    assert answer.fault is not None and answer.fault.subcode == "a:ActionNotSupported"


def test_unknown_shell_id_is_a_shell_not_found_fault(peer: RawPeer) -> None:
    for action in (names.ACTION_RECEIVE, names.ACTION_COMMAND, names.ACTION_DELETE):
        body = shell.build_receive("stdout") if action == names.ACTION_RECEIVE else ""
        answer = peer.post(envelope(action, body, selectors={"ShellId": "0000-NOPE"}))
        assert_fault(answer, SHELL_NOT_FOUND)
    assert_fault(peer.post(envelope(names.ACTION_RECEIVE, "<rsp:Receive/>")), SHELL_NOT_FOUND)


def test_unknown_command_id_is_an_invalid_command_handle_fault(peer: RawPeer) -> None:
    shell_id = peer.cmd_shell()
    assert_fault(peer.receive(shell_id, "D0E5-N0T-EX1ST"), INVALID_COMMAND_HANDLE)
    pool = peer.open_pool()
    assert_fault(pool.receive("D0E5-N0T-EX1ST"), INVALID_COMMAND_HANDLE)
    assert pool.close().status == 200
    assert peer.delete(shell_id).status == 200


def test_unknown_resource_uri_is_a_fault(peer: RawPeer) -> None:
    answer = peer.call(
        names.ACTION_CREATE, shell.build_create(), resource="http://schemas.example.org/nope"
    )
    assert_fault(answer, RESOURCE_NOT_FOUND)


@pytest.mark.parametrize(
    "creation",
    [
        "!!!not base64!!!",
        base64.b64encode(b"\x00" * 3).decode(),
        base64.b64encode(b"\x00" * 21 + b"\xff" * 200).decode(),
        base64.b64encode(b"\x00\x00\x00\x00\x00\x00\x00\x01" * 2 + b"\x03\x00\x00\x00\x10").decode()
        + "QUFBQUFBQUFBQUFBQUFBQQ==",
    ],
)
def test_bad_creation_xml_is_a_fault_and_opens_no_shell(
    peer: RawPeer, fleet: ThreadedFleet, creation: str
) -> None:
    body = (
        '<rsp:Shell ShellId="11111111-2222-3333-4444-555555555555"><rsp:InputStreams>stdin pr'
        "</rsp:InputStreams><rsp:OutputStreams>stdout</rsp:OutputStreams>"
        f'<creationXml xmlns="{names.NS_POWERSHELL}">{creation}</creationXml></rsp:Shell>'
    )
    answer = peer.call(names.ACTION_CREATE, body, resource=names.RESOURCE_POWERSHELL)
    assert answer.status == 500 and answer.fault is not None
    assert fleet.stats("node01")["shells_open"] == 0


@pytest.mark.parametrize(
    ("data", "send_status"),
    [("***", 500), (base64.b64encode(b"\x01" * 64).decode(), 500), ("", 200)],
)
def test_bad_command_and_send_data_are_faults(peer: RawPeer, data: str, send_status: int) -> None:
    pool = peer.open_pool()
    command = peer.call(
        names.ACTION_COMMAND,
        f"<rsp:CommandLine><rsp:Command/><rsp:Arguments>{data}</rsp:Arguments></rsp:CommandLine>",
        resource=names.RESOURCE_POWERSHELL,
        shell_id=pool.shell_id,
    )
    assert command.status == 500 and command.fault is not None
    send = peer.call(
        names.ACTION_SEND,
        f'<rsp:Send><rsp:Stream Name="stdin">{data}</rsp:Stream></rsp:Send>',
        resource=names.RESOURCE_POWERSHELL,
        shell_id=pool.shell_id,
    )
    assert send.status == send_status  # an empty stream is nothing to feed
    assert pool.run("'still works'").output == ["still works"]
    assert pool.close().status == 200


@pytest.mark.parametrize(
    "header", [("MaxEnvelopeSize", "lots"), ("OperationTimeout", "forever"), ("MessageID", "")]
)
def test_bad_header_values_are_faults(peer: RawPeer, header: tuple[str, str]) -> None:
    name, value = header
    text = envelope(names.ACTION_CREATE, shell.build_create()).decode()
    start = text.index(f"<wsman:{name}") if name != "MessageID" else text.index("<wsa:MessageID")
    close = text.index(">", start) + 1
    end = text.index("<", close)
    answer = peer.post((text[:close] + value + text[end:]).encode())
    if name == "MessageID":
        assert answer.status in (200, 500)  # Windows does not insist on it either
    else:
        assert_fault(answer, INVALID_XML)


def test_entity_expansion_is_refused(peer: RawPeer) -> None:
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i else "&lol;" * 10}">' for i in range(9)
        )
        + ']><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol8;'
        "</s:Body></s:Envelope>"
    )
    assert_fault(peer.post(laughs.encode()), INVALID_XML)
    # A DTD placed after a long comment is refused just the same.
    assert_fault(peer.post(b"<!--" + b"x" * 8000 + b"-->" + laughs[21:].encode()), INVALID_XML)


def test_wrong_credentials_get_401_and_are_counted(peer: RawPeer, fleet: ThreadedFleet) -> None:
    before = fleet.stats("node01")["auth_failures"]
    wrong = RawPeer(fleet.hosts[0], password="not-the-password")
    assert wrong.create_cmd().status == 401
    assert RawPeer(fleet.hosts[0], user="LAB\\nobody").create_cmd().status == 401
    host = fleet.hosts[0]
    client = Client(host.address, port=host.port, username=USER, password="nope", ssl=False)
    with pytest.raises(AuthenticationError):
        client.execute_ps("hostname")
    response = requests.post(
        peer.url, headers={"Authorization": "Negotiate %%%not-base64"}, data=b"", timeout=5
    )
    assert response.status_code == 401
    response = requests.post(
        peer.url, headers={"Authorization": "Negotiate " + "QUJD" * 10}, data=b"", timeout=5
    )
    assert response.status_code == 401
    assert fleet.stats("node01")["auth_failures"] >= before + 5


def _ntlm_connection(peer: RawPeer) -> tuple[requests.Session, str]:
    """An NTLM-authenticated connection (one requests.Session); returns it and the header
    of the final handshake step, to be sent with the first (encrypted) body."""
    http = requests.Session()
    context = spnego.client(USER, PASSWORD, protocol="ntlm")
    first = context.step()
    assert first is not None
    challenge = http.post(
        peer.url,
        headers={"Authorization": "Negotiate " + base64.b64encode(first).decode()},
        timeout=5,
    )
    assert challenge.status_code == 401
    token = challenge.headers["WWW-Authenticate"].split()[1]
    final = context.step(base64.b64decode(token))
    assert final is not None
    return http, "Negotiate " + base64.b64encode(final).decode()


@pytest.mark.parametrize(
    "body",
    [
        b"garbage",
        b"--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=10\r\n"
        b"--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n"
        b"\x10\x00\x00\x00" + b"\x01" * 40 + b"--Encrypted Boundary--\r\n",
        b"--Encrypted Boundary\r\n\tContent-Type: x\r\nLength=zz\r\n--Encrypted Boundary--\r\n",
    ],
)
def test_garbage_encrypted_body_is_400(peer: RawPeer, body: bytes) -> None:
    http, authorization = _ntlm_connection(peer)
    response = http.post(
        peer.url,
        headers={
            "Authorization": authorization,
            "Content-Type": framing.content_type(framing.SPNEGO_PROTOCOL),
        },
        data=body,
        timeout=5,
    )
    assert response.status_code == 400


def test_encrypted_body_without_a_security_context_is_400(peer: RawPeer) -> None:
    answer = peer.post(b"whatever", content_type=framing.content_type(framing.SPNEGO_PROTOCOL))
    assert answer.status == 400


def test_plain_body_over_http_is_refused_when_unencrypted_is_not_allowed() -> None:
    config = SimConfig(hosts=1, base_address="127.1.35.1", port=0)
    with fleet_in_thread(config) as strict:
        peer = RawPeer(strict.hosts[0])
        assert peer.create_cmd().status == 401  # no Basic over plain HTTP
        http, authorization = _ntlm_connection(peer)
        response = http.post(
            peer.url,
            headers={"Authorization": authorization, "Content-Type": "application/soap+xml"},
            data=envelope(names.ACTION_CREATE, shell.build_create()),
            timeout=5,
        )
        assert response.status_code == 401
        assert strict.stats()["shells_opened"] == 0


def test_a_failed_basic_attempt_unauthenticates_its_connection(peer: RawPeer) -> None:
    http = requests.Session()  # one keep-alive connection throughout
    body = envelope(names.ACTION_CREATE, shell.build_create())

    def post(authorization: str | None) -> int:
        headers = {"Content-Type": "application/soap+xml"}
        if authorization is not None:
            headers["Authorization"] = authorization
        return http.post(peer.url, headers=headers, data=body, timeout=5).status_code

    good = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    wrong = "Basic " + base64.b64encode(f"{USER}:nope".encode()).decode()
    assert post(good) == 500  # authenticated: a fault (a PowerShell Create without creationXml)
    assert post(None) == 500  # the connection stays authenticated
    assert post(wrong) == 401
    assert post(None) == 401  # not the identity the connection had before


def test_a_create_with_the_id_of_an_open_shell_is_refused(
    peer: RawPeer, fleet: ThreadedFleet
) -> None:
    pool = peer.open_pool()
    again = peer.call(
        names.ACTION_CREATE,
        shell.build_create(shell_id=pool.shell_id, creation_xml=b"\x00" * 8),
        resource=names.RESOURCE_POWERSHELL,
    )
    assert again.status == 500 and again.fault_code == 183
    assert fleet.stats("node01")["shells_open"] == 1
    assert pool.run("'the first is intact'").output == ["the first is intact"]
    assert pool.close().status == 200

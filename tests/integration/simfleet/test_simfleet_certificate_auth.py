"""Client-certificate auth as WinRM does it: HTTPS, the `.../https/mutual` header, and a
certificate whose UPN maps to an account; nothing else gets past 401.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import requests

from psfleet.errors import UsageError
from psfleet.simfleet import SimConfig, SimFleet
from psfleet.simfleet.certs import FleetCA, mapped_upn
from psfleet.transport.auth import CERTIFICATE_AUTHORIZATION
from psfleet.wsman import build_request, names, parse_envelope, shell
from psfleet.wsman.identify import IDENTIFY_REQUEST, parse_identify_response

pytestmark = pytest.mark.anyio

PSFLEET = str(Path(sys.executable).with_name("psfleet"))
HEADERS = {
    "Authorization": CERTIFICATE_AUTHORIZATION,
    "Content-Type": "application/soap+xml;charset=UTF-8",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    config = SimConfig(hosts=1, base_address="127.1.70.1", port=0, tls=True)
    async with SimFleet(config) as started:
        yield started


def url(fleet: SimFleet, scheme: str = "https") -> str:
    host = fleet.hosts[0]
    return f"{scheme}://{host.address}:{host.port}/wsman"


def tls_context(fleet: SimFleet, cert: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=fleet.ca_file)
    if cert is not None:
        context.load_cert_chain(*cert)
    return context


def create_cmd_shell(to: str) -> bytes:
    envelope, _ = build_request(
        action=names.ACTION_CREATE,
        to=to,
        resource_uri=names.RESOURCE_CMD,
        body=shell.build_create(input_streams="stdin"),
    )
    return envelope


async def post(
    fleet: SimFleet, body: bytes, cert: tuple[Path, Path] | None, *, scheme: str = "https"
) -> tuple[int, bytes]:
    ssl_option: ssl.SSLContext | bool = tls_context(fleet, cert) if scheme == "https" else False
    connector = aiohttp.TCPConnector(ssl=ssl_option)
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.post(
            url(fleet, scheme), data=body, headers=HEADERS, server_hostname="node01"
        ) as response,
    ):
        return response.status, await response.read()


async def test_an_issued_certificate_maps_to_its_account(fleet: SimFleet) -> None:
    cert, key = fleet.issue_client_certificate("admin")
    assert mapped_upn(ssl.PEM_cert_to_DER_cert(cert.read_text())) == "admin@lab"
    status, body = await post(fleet, IDENTIFY_REQUEST, (cert, key))
    assert status == 200
    assert parse_identify_response(parse_envelope(body).body).product_version.startswith("OS: ")
    status, body = await post(fleet, create_cmd_shell(url(fleet)), (cert, key))
    assert status == 200
    shell_id = shell.parse_create_response(parse_envelope(body).body)
    assert shell_id
    assert fleet.stats()["shells_opened"] == 1
    assert fleet.stats()["auth_failures"] == 0


async def test_without_a_certificate_the_header_gets_401(fleet: SimFleet) -> None:
    status, _ = await post(fleet, IDENTIFY_REQUEST, None)
    assert status == 401
    assert fleet.stats()["auth_failures"] == 1


async def test_a_certificate_for_an_unknown_user_gets_401(fleet: SimFleet) -> None:
    status, _ = await post(fleet, IDENTIFY_REQUEST, fleet.issue_client_certificate("nobody"))
    assert status == 401
    assert fleet.stats()["auth_failures"] == 1


async def test_a_certificate_from_another_ca_is_refused(fleet: SimFleet, tmp_path: Path) -> None:
    stranger = FleetCA(tmp_path / "other-ca").issue_client("admin@lab")
    try:
        status, _ = await post(fleet, IDENTIFY_REQUEST, stranger)
    except aiohttp.ClientError:
        return  # the handshake failed (with TLS 1.3 the client learns it on its first read)
    assert status == 401


async def test_over_plain_http_certificate_auth_is_refused(tmp_path: Path) -> None:
    config = SimConfig(hosts=1, base_address="127.1.70.20", port=0, state_dir=tmp_path)
    async with SimFleet(config) as fleet:
        with pytest.raises(UsageError, match="tls=True"):
            fleet.issue_client_certificate()
        status, _ = await post(fleet, IDENTIFY_REQUEST, None, scheme="http")
        assert status == 401
        assert fleet.stats()["auth_failures"] == 1


def test_psfleet_sim_writes_a_client_certificate_into_its_state_dir(tmp_path: Path) -> None:
    arguments = "sim --hosts 1 --tls --port 0 --base-address 127.1.70.30 --client-cert admin"
    process = subprocess.Popen(
        [PSFLEET, *arguments.split(), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = dict(part.split("=", 1) for part in process.stdout.readline().split()[1:])
        tls = tmp_path / "tls"
        response = requests.post(
            f"https://127.1.70.30:{ready['port']}/wsman",
            data=IDENTIFY_REQUEST,
            headers=HEADERS,
            cert=(str(tls / "client-admin@lab.pem"), str(tls / "client-admin@lab-key.pem")),
            verify=ready["ca"],
            timeout=10,
        )
        assert response.status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_psfleet_sim_client_cert_needs_tls_and_a_state_dir() -> None:
    done = subprocess.run(
        [PSFLEET, "sim", "--client-cert", "admin"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--client-cert needs --tls and --state-dir" in done.stderr

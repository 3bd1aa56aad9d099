"""SecureStrings sent to a host: the pool exchanges a session key first, once, then encrypts.

simfleet decrypts what it receives with the session key it handed out, so a script that
reads the SecureString back proves the whole exchange (RSA key, sealed AES key, <SS>).
"""

from __future__ import annotations

import pytest

from psfleet import SecureString
from psfleet.client import Connection, connect
from psfleet.simfleet import SimFleet

from .conftest import PASSWORD, USER

pytestmark = pytest.mark.anyio

_MARSHAL = "[Runtime.InteropServices.Marshal]"
READ_BACK = f"param($s) {_MARSHAL}::PtrToStringAuto({_MARSHAL}::SecureStringToBSTR($s))"


def on(fleet: SimFleet) -> Connection:
    host = fleet.hosts[0]
    return connect(
        host.name, address=host.address, port=host.port, auth="ntlm", credential=(USER, PASSWORD)
    )


async def test_a_secure_string_argument_reaches_the_script_decryptable(fleet: SimFleet) -> None:
    secret = SecureString.from_plain("Hello World")
    async with on(fleet) as pool:
        first = await pool.invoke(READ_BACK, secret)
        named = await pool.invoke(READ_BACK, parameters={"s": SecureString.from_plain("two")})
        piped = await pool.invoke(
            f"process {{ {_MARSHAL}::PtrToStringAuto({_MARSHAL}::SecureStringToBSTR($_)) }}",
            input=[SecureString.from_plain("three")],
        )
        assert pool._link.has_session_key
    assert first.output == ["Hello World"] and not first.had_errors
    assert named.output == ["two"]
    assert piped.output == ["three"]
    assert "Hello World" not in repr(secret) and "Hello World" not in str(secret)
    assert fleet.stats()["shells_open"] == 0


async def test_a_secure_string_from_the_host_decrypts_after_the_exchange(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        # Sending one makes the pool exchange keys; what the host sends back then decrypts.
        await pool.invoke(READ_BACK, SecureString.from_plain("x"))
        result = await pool.invoke("ConvertTo-SecureString 'abc' -AsPlainText -Force")
    (secure,) = result.output
    assert isinstance(secure, SecureString)
    assert secure.decrypt() == "abc"


async def test_plain_arguments_need_no_key_exchange(fleet: SimFleet) -> None:
    async with on(fleet) as pool:
        result = await pool.invoke("param($s) $s", "plain")
        assert not pool._link.has_session_key
    assert result.output == ["plain"]

"""ConvertTo-SecureString and the Marshal calls that read a SecureString back, in
minips and through psrpcore with and without a session key exchange."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psrpcore import (
    ClientPowerShell,
    ClientRunspacePool,
    MissingCipherError,
    ServerPipeline,
    ServerRunspacePool,
)
from psrpcore.types import PSSecureString

from psfleet.simfleet.minips import CommandSpec, Finished, Output, is_cacheable, run_commands
from psfleet.simfleet.psrp_output import command_specs, emit

_MARSHAL = "[System.Runtime.InteropServices.Marshal]"
_READ_BACK = f"{_MARSHAL}::PtrToStringAuto({_MARSHAL}::SecureStringToBSTR($s))"
_CONVERT = "Microsoft.PowerShell.Commands.ConvertToSecureStringCommand"


def test_plain_text_with_force_makes_a_secure_string(run) -> None:
    (secure, text) = run('$s = ConvertTo-SecureString abc -AsPlainText -Force; $s; "$s"').outputs
    assert isinstance(secure, PSSecureString)
    assert text == "System.Security.SecureString"


def test_marshal_reads_it_back_and_frees_it(run) -> None:
    script = (
        "$s = 'p@ss' | ConvertTo-SecureString -AsPlainText -Force; "
        "$p = [Runtime.InteropServices.Marshal]::SecureStringToBSTR($s); "
        "[Runtime.InteropServices.Marshal]::PtrToStringBSTR($p); "
        "[Runtime.InteropServices.Marshal]::ZeroFreeBSTR($p); "
        "$p -gt 0; [Runtime.InteropServices.Marshal]::PtrToStringAuto(0) -eq $null; " + _READ_BACK
    )
    assert run(script).outputs == ["p@ss", True, True, "p@ss"]


def test_reading_freed_memory_is_an_access_violation(run) -> None:
    script = (
        "$s = ConvertTo-SecureString a -AsPlainText -Force; "
        f"$p = {_MARSHAL}::SecureStringToBSTR($s); {_MARSHAL}::ZeroFreeBSTR($p); "
        f"{_MARSHAL}::PtrToStringAuto($p)"
    )
    (record,) = run(script).errors
    assert record.FullyQualifiedErrorId == "AccessViolationException"


def test_marshal_refuses_a_plain_string_and_null(run) -> None:
    result = run(f"{_MARSHAL}::SecureStringToBSTR('abc'); {_MARSHAL}::SecureStringToBSTR($null)")
    assert [r.FullyQualifiedErrorId for r in result.errors] == [
        "MethodArgumentConversionInvalidCastArgument",
        "ArgumentNullException",
    ]


def test_plain_text_without_force_is_refused(run) -> None:
    result = run("ConvertTo-SecureString abc -AsPlainText; 'next'")
    (record,) = result.errors
    assert record.FullyQualifiedErrorId == f"ImportSecureString_ForceRequired,{_CONVERT}"
    assert record.CategoryInfo.Reason == "ArgumentException"
    assert result.outputs == ["next"]


def test_protected_text_of_another_user_or_computer_cannot_be_read(run) -> None:
    (record,) = run("ConvertTo-SecureString 01000000d08c9ddf0115d1118c7a00c04fc297eb").errors
    assert record.FullyQualifiedErrorId == (
        f"ImportSecureString_InvalidArgument_CryptographicError,{_CONVERT}"
    )
    assert record.Exception.Message == "Key not valid for use in specified state.\r\n"


def test_scripts_touching_secure_strings_are_not_cacheable() -> None:
    assert not is_cacheable("ConvertTo-SecureString a -AsPlainText -Force")
    assert not is_cacheable(_READ_BACK)
    assert is_cacheable("Set-Variable a 1; $a")


# --- through psrpcore: the SecureString as the client sends and receives it ----------------


def _drain(source: Any, sink: Any) -> None:
    while (data := source.data_to_send()) is not None:
        sink.receive_data(data)


def _events(pool: Any) -> Iterator[Any]:
    while (event := pool.next_event()) is not None:
        yield event


def _exchange(client: Any, server: Any) -> None:
    _drain(client, server)
    list(_events(server))
    _drain(server, client)
    list(_events(client))


@pytest.fixture
def pools() -> tuple[ClientRunspacePool, ServerRunspacePool]:
    client, server = ClientRunspacePool(), ServerRunspacePool()
    client.open()
    _exchange(client, server)
    return client, server


def _invoke(pools: Any, ctx: Any, *commands: tuple[str, dict[str, Any]]) -> list[Any]:
    """Run statements of one cmdlet each on the server; the client's pipeline events."""
    client, server = pools
    ps = ClientPowerShell(client)
    for name, params in commands:
        ps.add_command(name).add_parameters(**params).add_statement()
    ps.start()
    pipeline = ServerPipeline(server, ps.pipeline_id)
    _drain(client, server)
    list(_events(server))
    pipeline.start()
    for item in run_commands(command_specs(pipeline), ctx):
        emit(pipeline, item, ctx)
    _drain(server, client)
    return [e for e in _events(client) if getattr(e, "pipeline_id", None) == ps.pipeline_id]


def test_client_secure_string_is_read_with_the_exchanged_key(pools, ctx) -> None:
    client, server = pools
    client.exchange_key()
    _exchange(client, server)
    events = _invoke(
        pools,
        ctx,
        ("Set-Variable", {"Name": "s", "Value": PSSecureString("Hello World")}),
        ("Invoke-Expression", {"Command": _READ_BACK}),
        ("ConvertTo-SecureString", {"String": "abc", "AsPlainText": True, "Force": True}),
    )
    outputs = [e.data for e in events if type(e).__name__ == "PipelineOutputEvent"]
    assert outputs[0] == "Hello World"
    assert isinstance(outputs[1], PSSecureString)
    assert outputs[1].decrypt() == "abc"


def test_without_a_key_exchange_the_client_cannot_decrypt(pools, ctx) -> None:
    events = _invoke(
        pools,
        ctx,
        ("ConvertTo-SecureString", {"String": "abc", "AsPlainText": True, "Force": True}),
    )
    (secure,) = [e.data for e in events if type(e).__name__ == "PipelineOutputEvent"]
    # The server encrypts with a session key it never sent, as Windows does.
    assert isinstance(secure, PSSecureString)
    with pytest.raises(MissingCipherError):
        secure.decrypt()


def test_a_secure_string_under_another_key_fails_the_pipeline(ctx) -> None:
    # As when Windows' capture is replayed: cipher text under Windows' key, not this session's.
    server = ServerRunspacePool()
    foreign = PSSecureString("GXD6gSYvWjfp54Vgl3jLpuNMBhNdfWFRbM1QdeUNYFU=", server._cipher)
    specs = [
        CommandSpec("Set-Variable", False, (("Name", "s"), ("Value", foreign)), True),
        CommandSpec("'before'", True, (), True),
        CommandSpec(_READ_BACK, True, (), True),
        CommandSpec("'after'", True, (), True),
    ]
    items = list(run_commands(specs, ctx))
    assert [i.value for i in items if isinstance(i, Output)] == ["before"]
    finished = items[-1]
    assert isinstance(finished, Finished) and finished.failed
    assert finished.error is not None
    assert finished.error.FullyQualifiedErrorId == "DeserializeSecureStringFailed"

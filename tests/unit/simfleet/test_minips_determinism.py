"""Same script on the same host gives the same output; hosts differ; cacheability is known."""

from __future__ import annotations

import pytest
from psrpcore.types import serialize_clixml

from psfleet.simfleet.hostfacts import derive_host, stable_hash
from psfleet.simfleet.minips import Output, is_cacheable, run_script

SCRIPT = "Get-Service | Select Name, Status; Get-ComputerInfo; Get-ChildItem C:\\; $PSVersionTable"


def _wire(items: list) -> list[str]:
    return [serialize_clixml(i.value, None) for i in items if isinstance(i, Output)]


def test_same_script_same_host_same_serialized_output(session) -> None:
    first = _wire(list(run_script(SCRIPT, session())))
    second = _wire(list(run_script(SCRIPT, session())))
    assert first == second


def test_hosts_differ_in_their_derived_facts(fleet) -> None:
    facts = {(h.os_build, h.memory_kb, h.boot_time) for h in fleet}
    assert len(facts) == len(fleet)


def test_host_facts_derive_from_a_stable_hash_of_the_name() -> None:
    assert stable_hash("NODE01") == stable_hash("node01")
    assert derive_host("node07", "127.0.0.9") == derive_host("node07", "127.0.0.9")
    builds = {derive_host(f"n{i}", "127.0.0.2").os_build for i in range(30)}
    assert builds == {14393, 17763, 20348}
    stopped = [
        s.name
        for i in range(30)
        for s in derive_host(f"n{i}", "127.0.0.2").services
        if s.status == "Stopped"
    ]
    assert stopped


@pytest.mark.parametrize(
    ("script", "cacheable"),
    [
        ("Get-Service | Where Status -eq Running", True),
        ("hostname; $env:COMPUTERNAME; Get-ComputerInfo", True),
        ("Invoke-Command -ComputerName node02 { Get-Service }", True),
        ("Get-Nothing", True),
        ("Get-Date", False),
        ("Get-Process", False),
        ("Start-Sleep 1", False),
        ("Test-Cluster", False),
        ("Write-Host hi", False),
        ("[datetime]::Now", False),
        ("whoami", False),
        ("$env:USERNAME", False),
        ("Invoke-Expression 'hostname'", False),
        ("Invoke-Command -ComputerName node02 { Get-Date }", False),
    ],
)
def test_is_cacheable_flags_time_and_user_dependent_scripts(script: str, cacheable: bool) -> None:
    assert is_cacheable(script) is cacheable

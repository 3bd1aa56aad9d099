"""simfleet's answers to Disconnect, Enumerate and Reconnect have the shapes Windows Server
gave in pypsrp's recorded exchanges (tests/tests_pypsrp/responses/ of pypsrp 0.9.1, MIT):
`test_psrp_disconnect_runspaces.yml` and `test_psrp_disconnected_commands.yml`. Sent by an
unmodified pypsrp client, read as raw XML; on 127.36.3.x."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from pypsrp.powershell import RunspacePool
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread

USER, PASSWORD = "LAB\\admin", "psfleet-demo"
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
FILTER = "http://schemas.dmtf.org/wbem/wsman/1/wsman/SelectorFilter"


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(SimConfig(hosts=3, base_address="127.36.3.1", port=0)) as running:
        yield running


def wsman(fleet: ThreadedFleet, index: int) -> WSMan:
    host = fleet.hosts[index]
    return WSMan(
        host.address, port=host.port, username=USER, password=PASSWORD, ssl=False, auth="ntlm"
    )


def enumerate_shells(connection: WSMan, shell_id: str | None = None) -> ET.Element:
    """Enumerate as pypsrp sends it (and Get-PSSession): optimized, 32000 elements."""
    body = ET.Element(f"{{{NAMESPACES['wsen']}}}Enumerate")
    ET.SubElement(body, f"{{{NAMESPACES['wsman']}}}OptimizeEnumeration")
    ET.SubElement(body, f"{{{NAMESPACES['wsman']}}}MaxElements").text = "32000"
    if shell_id is not None:
        selectors = ET.SubElement(
            ET.SubElement(body, f"{{{NAMESPACES['wsman']}}}Filter", Dialect=FILTER),
            f"{{{NAMESPACES['wsman']}}}SelectorSet",
        )
        selector = ET.SubElement(selectors, f"{{{NAMESPACES['wsman']}}}Selector", Name="ShellId")
        selector.text = shell_id
    answer: ET.Element = connection.enumerate(SHELL_URI, body)
    return answer


def test_a_shell_disconnected_without_an_idle_timeout_is_listed_with_the_hosts(
    fleet: ThreadedFleet,
) -> None:
    # test_psrp_disconnect_runspaces, messages 10-11: `<rsp:Disconnect />` with no
    # IdleTimeOut, then Enumerate lists the shell State Disconnected, IdleTimeOut
    # PT7200.000S (the host's default), BufferMode Block.
    with wsman(fleet, 0) as connection:
        pool = RunspacePool(connection)
        pool.open()
        pool.disconnect()
        listed = enumerate_shells(connection)
        [shell] = listed.findall("wsen:EnumerateResponse/wsman:Items/rsp:Shell", NAMESPACES)
        assert listed.find("wsen:EnumerateResponse/wsman:EndOfSequence", NAMESPACES) is not None
        assert (shell.findtext("rsp:ShellId", namespaces=NAMESPACES) or "").upper() == str(
            pool.id
        ).upper()
        assert shell.findtext("rsp:State", namespaces=NAMESPACES) == "Disconnected"
        assert shell.findtext("rsp:IdleTimeOut", namespaces=NAMESPACES) == "PT7200.000S"
        assert shell.findtext("rsp:BufferMode", namespaces=NAMESPACES) == "Block"
        pool.connect()  # Reconnect, as the same client
        pool.close()
    assert fleet.stats(fleet.hosts[0].name)["shells_open"] == 0


def test_the_commands_of_a_pool_with_none_are_an_empty_sequence(fleet: ThreadedFleet) -> None:
    # test_psrp_disconnect_runspaces, messages 12-13: a ShellId filter on a pool without a
    # command is answered with an EnumerationContext and EndOfSequence, no Items element.
    with wsman(fleet, 1) as connection:
        pool = RunspacePool(connection)
        pool.open()
        pool.disconnect()
        listed = enumerate_shells(connection, str(pool.id).upper())
        response = listed.find("wsen:EnumerateResponse", NAMESPACES)
        assert response is not None
        assert [child.tag.split("}")[1] for child in response] == [
            "EnumerationContext",
            "EndOfSequence",
        ]
        pool.connect()
        pool.close()


def test_reconnect_to_a_pool_already_connected_is_answered_empty(fleet: ThreadedFleet) -> None:
    # test_psrp_disconnected_commands, messages 18-26: a second client Connects, receives,
    # then sends Reconnect to the pool it is connected to: an empty ReconnectResponse,
    # and the Delete that follows succeeds.
    with wsman(fleet, 2) as first:
        pool = RunspacePool(first)
        pool.open()
        pool.disconnect()
    with wsman(fleet, 2) as second:
        [found] = RunspacePool.get_runspace_pools(second)
        found.connect()  # Connect with connectXml: a new client
        selectors = SelectorSet()
        selectors.add_option("ShellId", str(found.id).upper())
        body = second.reconnect(found.shell.resource_uri, selector_set=selectors)
        assert list(body) == []  # <s:Body/> empty, not a fault
        found.close()
    assert fleet.stats(fleet.hosts[2].name)["shells_open"] == 0

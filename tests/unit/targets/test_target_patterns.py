"""Ansible-style patterns over an inventory, through resolve_targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.targets import resolve_targets

INVENTORY = """\
all:
  hosts:
    node01: {ansible_host: 127.1.0.1}
    node02: {ansible_host: 127.1.0.2}
    node03: {ansible_host: 127.1.0.3}
    node11: {ansible_host: 127.1.0.11}
  children:
    web:
      hosts: {node01: {}, node02: {}, node11: {}}
    prod:
      hosts: {node02: {}, node03: {}, node11: {}}
    dbservers:
      hosts: {node03: {}}
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inventory.yml"
    path.write_text(INVENTORY, encoding="utf-8")
    return path


def _names(patterns: list[str], inventory: Path) -> list[str]:
    return [target.name for target in resolve_targets(patterns, inventory, None)]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("all", ["node01", "node02", "node03", "node11"]),
        ("*", ["node01", "node02", "node03", "node11"]),
        ("web", ["node01", "node02", "node11"]),
        ("node03", ["node03"]),
        ("NODE03", ["node03"]),
        ("node0*", ["node01", "node02", "node03"]),
        ("db*", ["node03"]),
        ("node[02-03]", ["node02", "node03"]),
        ("dbservers:web", ["node03", "node01", "node02", "node11"]),
        ("dbservers,web", ["node03", "node01", "node02", "node11"]),
        ("web:&prod", ["node02", "node11"]),
        ("all:!node03", ["node01", "node02", "node11"]),
        ("web:!prod", ["node01"]),
        ("!web", ["node03"]),
        ("&prod:web:!node11", ["node02"]),
    ],
)
def test_pattern_forms(inventory: Path, pattern: str, expected: list[str]) -> None:
    assert _names([pattern], inventory) == expected


def test_several_patterns_are_unioned_in_order(inventory: Path) -> None:
    assert _names(["node11", "web"], inventory) == ["node11", "node01", "node02"]


def test_inventory_hosts_get_their_vars(inventory: Path) -> None:
    target = resolve_targets(["node11"], inventory, 5985)[0]
    assert (target.address, target.port) == ("127.1.0.11", 5985)


def test_file_of_patterns_is_read_relative_to_cwd(
    inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "limit.txt").write_text("# maintenance\nweb:&prod\nnode03\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert _names(["@limit.txt"], inventory) == ["node02", "node11", "node03"]
    assert _names(["all:!@limit.txt"], inventory) == ["node01"]


def test_unknown_bare_name_is_an_error_naming_the_inventory(inventory: Path) -> None:
    with pytest.raises(
        UsageError, match=r"no host or group matches 'webb' in inventory .*inventory\.yml"
    ):
        resolve_targets(["webb"], inventory, None)


@pytest.mark.parametrize("pattern", ["web:&prodd", "all:!node99", "nope*"])
def test_unknown_names_in_any_position_are_errors(inventory: Path, pattern: str) -> None:
    with pytest.raises(UsageError, match="no host or group matches"):
        resolve_targets([pattern], inventory, None)


def test_fqdn_and_ip_outside_the_inventory_are_ad_hoc_hosts_without_its_vars(
    inventory: Path,
) -> None:
    targets = resolve_targets(["node01,other.lab.local,10.9.9.9"], inventory, 5985)
    assert [(t.name, t.address, t.port, dict(t.vars)) for t in targets[1:]] == [
        ("other.lab.local", "other.lab.local", 5985, {}),
        ("10.9.9.9", "10.9.9.9", 5985, {}),
    ]


def test_pattern_matching_nothing_is_an_error(inventory: Path) -> None:
    with pytest.raises(UsageError, match="matches no hosts"):
        resolve_targets(["dbservers:&web"], inventory, None)


def test_operator_without_a_name_is_an_error(inventory: Path) -> None:
    with pytest.raises(UsageError, match="needs a name"):
        resolve_targets(["all:!"], inventory, None)

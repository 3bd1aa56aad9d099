"""Ansible INI inventories: sections, host vars, :vars, :children, ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.targets import load_inventory

INI = """\
# ungrouped hosts come first
jump ansible_host=10.0.0.9

[web]
web[01:03].lab.local
web04.lab.local ansible_port=5986 ansible_winrm_scheme=https role="front end"

[db]
db1 ansible_host=10.0.1.1  # inline comment
db1 backup=True

[prod:children]
web
db

[prod:vars]
ansible_user = LAB\\fleet
ansible_password=0123secret
zone=eu

[web:vars]
zone=eu-web

[all:vars]
ansible_winrm_transport=ntlm
"""


@pytest.fixture
def ini_path(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.ini"
    path.write_text(INI, encoding="utf-8")
    return path


def test_sections_ranges_and_children(ini_path: Path) -> None:
    inventory = load_inventory(ini_path)
    assert inventory.hosts_of("web") == [
        "web01.lab.local",
        "web02.lab.local",
        "web03.lab.local",
        "web04.lab.local",
    ]
    assert inventory.hosts_of("prod")[-1] == "db1"
    assert inventory.hosts_of("ungrouped") == ["jump"]


def test_host_line_values_are_literals_and_quotes_are_removed(ini_path: Path) -> None:
    host = load_inventory(ini_path).host_vars("web04.lab.local")
    assert host["ansible_port"] == 5986
    assert host["role"] == "front end"
    assert load_inventory(ini_path).host_vars("db1")["backup"] is True


def test_group_vars_inherit_and_the_deeper_group_wins(ini_path: Path) -> None:
    inventory = load_inventory(ini_path)
    assert inventory.host_vars("web01.lab.local")["zone"] == "eu-web"
    assert inventory.host_vars("db1")["zone"] == "eu"
    assert inventory.host_vars("jump")["ansible_winrm_transport"] == "ntlm"
    target = inventory.target("db1", default_port=5985)
    assert (target.address, target.port, target.user) == ("10.0.1.1", 5985, "LAB\\fleet")


def test_group_var_values_stay_text_so_passwords_keep_leading_zeros(ini_path: Path) -> None:
    target = load_inventory(ini_path).target("db1")
    assert target.password is not None and target.password.reveal() == "0123secret"
    assert "0123secret" not in repr(target)


def test_suffixless_ini_is_recognised_by_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[web]\nw1\n", encoding="utf-8")
    assert load_inventory(path).hosts_of("web") == ["w1"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[web\nw1\n", r"hosts\.ini:1: malformed section header"),
        ("[web]\nw1 port\n", r"hosts\.ini:2: expected key=value"),
        ("[web:vars]\njustaword\n", "expected key=value"),
        ("[web]\nw[05:01]\n", "empty range"),
        ("[web]\nw1 note='open\n", "cannot parse"),
        ("[a:children]\nb\n[b:children]\na\n", "contain each other"),
    ],
)
def test_bad_ini_lines_are_usage_errors_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message):
        load_inventory(path)

"""Ansible YAML inventories load through the installed plugin, with vars inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.targets import load_inventory, resolve_targets

SIMULATOR_INVENTORY = """\
all:
  hosts:
    node01: {ansible_host: 127.1.0.1, ansible_port: 5985}
    node02: {ansible_host: 127.1.0.2, ansible_port: 5985}
  children:
    CLUSTER01:
      hosts:
        node01: {}
        node02: {}
"""

NESTED = """\
all:
  vars: {ansible_user: fleet, ansible_winrm_transport: ntlm, level: all}
  children:
    prod:
      vars: {level: prod, ansible_winrm_scheme: https, ansible_port: 5986}
      children:
        web:
          vars: {level: web}
          hosts:
            web[01:02].lab.local:
            web03.lab.local: {level: host, ansible_user: webadmin}
        db:
          hosts:
            db1.lab.local: {ansible_password: hunter2}
    lab:
      hosts:
        lab1:
"""


def _write(tmp_path: Path, text: str, name: str = "inventory.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_simulator_inventory_resolves_a_cluster_group(tmp_path: Path) -> None:
    path = _write(tmp_path, SIMULATOR_INVENTORY)
    targets = resolve_targets(["CLUSTER01"], path, None)
    assert [(t.name, t.address, t.port) for t in targets] == [
        ("node01", "127.1.0.1", 5985),
        ("node02", "127.1.0.2", 5985),
    ]
    assert targets[0].url == "http://127.1.0.1:5985/wsman"


def test_simulator_tls_inventory_gives_https_targets(tmp_path: Path) -> None:
    text = SIMULATOR_INVENTORY.replace(
        "ansible_port: 5985", "ansible_port: 5986, ansible_winrm_scheme: https"
    )
    targets = resolve_targets(["all"], _write(tmp_path, text), 5985)
    assert [t.url for t in targets] == [
        "https://127.1.0.1:5986/wsman",
        "https://127.1.0.2:5986/wsman",
    ]


def test_nested_children_inherit_group_vars_and_host_vars_win(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, NESTED))
    assert inventory.host_vars("web01.lab.local")["level"] == "web"
    assert inventory.host_vars("web03.lab.local")["level"] == "host"
    assert inventory.host_vars("web03.lab.local")["ansible_user"] == "webadmin"
    assert inventory.host_vars("db1.lab.local")["level"] == "prod"
    assert inventory.host_vars("lab1")["level"] == "all"
    target = inventory.target("web02.lab.local", default_port=5985)
    assert (target.user, target.auth, target.scheme, target.port) == (
        "fleet",
        "ntlm",
        "https",
        5986,
    )


def test_group_members_include_children_in_inventory_order(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, NESTED))
    assert inventory.hosts_of("prod") == [
        "web01.lab.local",
        "web02.lab.local",
        "web03.lab.local",
        "db1.lab.local",
    ]
    assert inventory.hosts_of("ungrouped") == []


def test_password_from_yaml_is_a_secret(tmp_path: Path) -> None:
    targets = resolve_targets(["db1.lab.local"], _write(tmp_path, NESTED), None)
    assert "hunter2" not in repr(targets)
    assert targets[0].password is not None and targets[0].password.reveal() == "hunter2"


def test_hosts_only_in_all_are_ungrouped(tmp_path: Path) -> None:
    text = "all:\n  hosts:\n    solo:\n  children:\n    g:\n      hosts:\n        member:\n"
    inventory = load_inventory(_write(tmp_path, text))
    assert inventory.hosts_of("ungrouped") == ["solo"]


def test_top_level_groups_other_than_all_hang_under_all(tmp_path: Path) -> None:
    text = "web:\n  hosts:\n    w1:\n  vars:\n    role: web\n"
    inventory = load_inventory(_write(tmp_path, text, "hosts.yaml"))
    assert inventory.hosts_of("all") == ["w1"]
    assert inventory.host_vars("w1")["role"] == "web"


def test_suffixless_yaml_is_recognised_by_its_first_line(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "# fleet\n" + SIMULATOR_INVENTORY, "hosts"))
    assert inventory.host_names == ("node01", "node02")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("all: [a, b]\n", "must be a mapping"),
        ("all:\n  host:\n    a:\n", "unknown keys"),
        ("all: {hosts: {a: }\n", "not valid YAML"),
        (
            "a:\n  children:\n    b:\n      children:\n        a:\n",
            "contain each other",
        ),
        ("all:\n  hosts:\n    'node[3:1]':\n", "empty range"),
    ],
)
def test_bad_yaml_inventory_is_a_clear_usage_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_inventory(_write(tmp_path, text))

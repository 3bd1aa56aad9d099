"""resolve_targets and resolve_cluster: the entry points the CLI and scheduler call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from psfleet.errors import ConnectError, UsageError
from psfleet.targets import Target, merge_targets, resolve_cluster, resolve_targets

CLUSTER_INVENTORY = """\
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


def test_without_inventory_names_become_targets_on_the_default_port() -> None:
    targets = resolve_targets(["node[1-2],10.0.0.7"], None, 5985)
    assert targets == [
        Target("node1", "node1", 5985),
        Target("node2", "node2", 5985),
        Target("10.0.0.7", "10.0.0.7", 5985),
    ]


def test_no_port_leaves_winrm_defaults_to_the_scheme() -> None:
    assert resolve_targets(["web1"], None, None)[0].url == "http://web1:5985/wsman"


def test_no_targets_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no targets given"):
        resolve_targets(["  "], None, None)


def test_empty_target_file_matches_no_hosts(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    with pytest.raises(UsageError, match="matches no hosts"):
        resolve_targets([f"@{empty}"], None, None)


def test_missing_inventory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve_targets(["all"], tmp_path / "missing.yml", None)


def test_plain_host_list_works_as_an_inventory(tmp_path: Path) -> None:
    path = tmp_path / "fleet.txt"
    path.write_text("web[1-2].lab.local\ndb1.lab.local\n", encoding="utf-8")
    assert [t.name for t in resolve_targets(["web*"], path, None)] == [
        "web1.lab.local",
        "web2.lab.local",
    ]


def test_suffixless_host_list_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "fleet"
    path.write_text("# lab\nnode[1-3]\n", encoding="utf-8")
    assert [t.name for t in resolve_targets(["all:!node2"], path, None)] == ["node1", "node3"]


def test_merge_keeps_the_first_target_of_each_name() -> None:
    merged = merge_targets([Target("a", "10.0.0.1")], [Target("A", "a"), Target("b", "b")])
    assert [(t.name, t.address) for t in merged] == [("a", "10.0.0.1"), ("b", "b")]


class _FakeCluster:
    """A stand-in for the network hook: answers from a table, refuses unknown seeds."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def __call__(self, seed: Target) -> Sequence[str]:
        self.asked.append(seed.address)
        if seed.address not in self.answers:
            raise ConnectError("connection refused", host=seed.name)
        return self.answers[seed.address]


def test_cluster_group_asks_its_nodes_in_turn_and_applies_inventory_vars(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yml"
    path.write_text(CLUSTER_INVENTORY, encoding="utf-8")
    expander = _FakeCluster({"127.1.0.2": ["NODE01", "node02", "node01"]})
    targets = anyio.run(resolve_cluster, "CLUSTER01", path, None, expander)
    assert expander.asked == ["127.1.0.1", "127.1.0.2"]
    assert [(t.name, t.address, t.port) for t in targets] == [
        ("node01", "127.1.0.1", 5985),
        ("node02", "127.1.0.2", 5985),
    ]


def test_cluster_without_inventory_asks_the_cluster_name(tmp_path: Path) -> None:
    expander = _FakeCluster({"clu1.lab.local": ["n1.lab.local", "n2.lab.local"]})
    targets = anyio.run(resolve_cluster, "clu1.lab.local", None, 5985, expander)
    assert targets == [
        Target("n1.lab.local", "n1.lab.local", 5985),
        Target("n2.lab.local", "n2.lab.local", 5985),
    ]


def test_cluster_nobody_answers_raises_the_last_error() -> None:
    with pytest.raises(ConnectError, match="connection refused"):
        anyio.run(resolve_cluster, "clu1", None, None, _FakeCluster({}))


def test_cluster_reporting_a_bad_node_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid node name"):
        anyio.run(resolve_cluster, "clu1", None, None, _FakeCluster({"clu1": ["bad name"]}))

"""Target expressions without an inventory: names, lists, ranges, @files, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.targets import expand_expressions, expand_ranges


def test_single_name_and_ipv4_literal() -> None:
    assert expand_expressions(["web01.lab.local", "10.0.0.5"]) == ["web01.lab.local", "10.0.0.5"]


def test_comma_list_keeps_order_and_skips_blanks() -> None:
    assert expand_expressions(["c, a ,,b"]) == ["c", "a", "b"]


def test_range_is_zero_padded_like_its_start_bound() -> None:
    assert expand_expressions(["node[01-03]"]) == ["node01", "node02", "node03"]
    assert expand_expressions(["node[8-10]"]) == ["node8", "node9", "node10"]
    assert expand_expressions(["n[001-2]"]) == ["n001", "n002"]


def test_range_inside_a_dotted_name() -> None:
    assert expand_expressions(["web[1-3].lab.local"]) == [
        "web1.lab.local",
        "web2.lab.local",
        "web3.lab.local",
    ]


def test_several_ranges_in_one_name_expand_in_order() -> None:
    assert expand_expressions(["r[1-2]n[1-2]"]) == ["r1n1", "r1n2", "r2n1", "r2n2"]


def test_range_next_to_commas_in_one_expression() -> None:
    assert expand_expressions(["a,node[1-2],b"]) == ["a", "node1", "node2", "b"]


def test_duplicates_are_removed_case_insensitively_keeping_first_spelling() -> None:
    assert expand_expressions(["Node1,node[1-2]", "NODE2,x"]) == ["Node1", "node2", "x"]


def test_file_lists_one_expression_per_line_with_comments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hosts.txt").write_text(
        "# rack 1\nnode[01-02]\n\n  db1, db2   # databases\nnode01\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)  # @file paths are relative to the current directory
    assert expand_expressions(["first,@hosts.txt", "last"]) == [
        "first",
        "node01",
        "node02",
        "db1",
        "db2",
        "last",
    ]


def test_unreadable_file_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(UsageError, match=r"cannot read target file .*nope\.txt"):
        expand_expressions([f"@{missing}"])


def test_file_that_includes_a_file_is_refused(tmp_path: Path) -> None:
    outer = tmp_path / "outer.txt"
    outer.write_text("@inner.txt\n", encoding="utf-8")
    with pytest.raises(UsageError, match="cannot include another"):
        expand_expressions([f"@{outer}"])


@pytest.mark.parametrize("expression", ["node[5-1]", "node[10-09]"])
def test_empty_range_is_a_usage_error(expression: str) -> None:
    with pytest.raises(UsageError, match="empty range"):
        expand_expressions([expression])


@pytest.mark.parametrize(
    "expression", ["node[1-", "node1-3]", "node[a-c]", "node[1..3]", "node[[1-2]]", "node[]"]
)
def test_malformed_bracket_is_a_usage_error(expression: str) -> None:
    with pytest.raises(UsageError, match="malformed range"):
        expand_expressions([expression])


def test_range_too_large_fails_before_generating_names() -> None:
    with pytest.raises(UsageError, match="more than the limit"):
        expand_expressions(["n[1-100000]x[1-100000]"])


def test_total_over_the_limit_across_terms_fails() -> None:
    with pytest.raises(UsageError, match="more than the limit"):
        expand_expressions(["a[1-6]", "b[1-6]"], limit=10)


@pytest.mark.parametrize("expression", ["bad_host!", "web:&prod", "all:!x", "node0*"])
def test_patterns_without_inventory_ask_for_one(expression: str) -> None:
    with pytest.raises(UsageError, match="--inventory"):
        expand_expressions([expression])


@pytest.mark.parametrize("name", ["-web", "a b", "10.0.0.256", "x" * 64])
def test_invalid_host_names_are_usage_errors(name: str) -> None:
    with pytest.raises(UsageError, match="not a valid host name"):
        expand_expressions([name])


def test_inventory_range_syntax_uses_colon() -> None:
    assert expand_ranges("node[01:02]", separator=":") == ["node01", "node02"]

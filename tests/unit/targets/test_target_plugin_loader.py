"""The entry-point plugin loader, with a real distribution written to a temp dir on sys.path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from psfleet.errors import UsageError
from psfleet.plugin_loader import load_plugins, rescan_plugins
from psfleet.targets import inventory_formats, is_inventory_format, resolve_targets

THIRD_PARTY = """\
import json
from psfleet.targets import InventoryBuilder


class JsonHosts:
    name = "jsonhosts"

    def can_load(self, path):
        return path.suffix == ".json"

    def load(self, path):
        builder = InventoryBuilder(str(path))
        for name, host_vars in json.loads(path.read_text()).items():
            builder.add_host(name, host_vars, group="json")
        return builder.build()


class Exploding:
    def __init__(self):
        raise RuntimeError("constructor blew up")


NOT_A_FORMAT = 42


class WrongShape:
    pass
"""

ENTRY_POINTS = """\
[psfleet.plugins]
inventory.jsonhosts = psfleet_test_thirdparty:JsonHosts
inventory.importfails = psfleet_test_broken:Anything
inventory.exploding = psfleet_test_thirdparty:Exploding
inventory.notcallable = psfleet_test_thirdparty:NOT_A_FORMAT
inventory.wrongshape = psfleet_test_thirdparty:WrongShape
sink.fromtest = psfleet_test_broken:Sink
nodot = psfleet_test_broken:Ignored
"""


@pytest.fixture
def plugin_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    dist_info = site / "psfleet_test_plugins-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: psfleet-test-plugins\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    # A second distribution that offers a name already taken.
    dupe_info = site / "psfleet_test_dupe-1.0.dist-info"
    dupe_info.mkdir()
    (dupe_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: psfleet-test-dupe\nVersion: 1.0\n", encoding="utf-8"
    )
    (dupe_info / "entry_points.txt").write_text(
        "[psfleet.plugins]\ninventory.jsonhosts = psfleet_test_thirdparty:JsonHosts\n",
        encoding="utf-8",
    )
    (site / "psfleet_test_thirdparty.py").write_text(THIRD_PARTY, encoding="utf-8")
    (site / "psfleet_test_broken.py").write_text(
        "raise ImportError('needs a library that is not installed')\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(site))
    rescan_plugins()
    yield site
    sys.modules.pop("psfleet_test_thirdparty", None)
    monkeypatch.undo()
    rescan_plugins()


def test_builtin_inventory_formats_load_through_entry_points() -> None:
    formats = inventory_formats()
    assert {"hostlist", "yaml", "ini"} <= set(formats.loaded)
    assert formats.loaded["yaml"].name == "yaml"


def test_broken_plugins_are_reported_by_name_and_the_rest_still_load(plugin_site: Path) -> None:
    plugins = load_plugins("inventory", is_inventory_format)
    assert {"hostlist", "yaml", "ini", "jsonhosts"} <= set(plugins.loaded)
    broken = dict(plugins.broken)
    assert "needs a library that is not installed" in broken["importfails"]
    assert "constructor blew up" in broken["exploding"]
    assert "not a class or factory" in broken["notcallable"]
    assert "not a plugin of kind 'inventory'" in broken["wrongshape"]


def test_a_second_plugin_with_a_taken_name_is_reported_and_the_first_kept(
    plugin_site: Path,
) -> None:
    plugins = load_plugins("inventory", is_inventory_format)
    assert type(plugins.loaded["jsonhosts"]).__name__ == "JsonHosts"
    assert dict(plugins.broken)["jsonhosts"].startswith("duplicate plugin name")


def test_only_the_requested_kind_is_imported(plugin_site: Path) -> None:
    sinks = load_plugins("sink")
    assert "fromtest" in dict(sinks.broken)
    assert "fromtest" not in dict(load_plugins("inventory").broken)
    assert "nodot" not in dict(sinks.broken)


def test_third_party_format_resolves_targets_like_a_builtin(
    plugin_site: Path, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.json"
    path.write_text('{"app1": {"ansible_host": "10.1.1.1", "ansible_port": 5986}}')
    targets = resolve_targets(["json"], path, None)
    assert [(t.name, t.address, t.url) for t in targets] == [
        ("app1", "10.1.1.1", "https://10.1.1.1:5986/wsman")
    ]


def test_unrecognised_inventory_names_known_and_broken_formats(
    plugin_site: Path, tmp_path: Path
) -> None:
    path = tmp_path / "fleet.cfg"
    path.write_text("x\n")
    with pytest.raises(
        UsageError, match=r"no inventory format recognises .*known formats: .*broken"
    ):
        resolve_targets(["all"], path, None)

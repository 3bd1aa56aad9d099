"""What importing psfleet does, and does not do, seen from a fresh interpreter each time.

A library must not drag in its command line or its simulator, nor change its host
application's logging; the import-linter contracts in pyproject check the source, these
tests check what actually lands in sys.modules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread

# A sys.meta_path finder that makes the named top-level packages unimportable, as on a
# machine where they are not installed (named as the script's arguments).
HIDE = """
import importlib.abc, sys

class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

HIDDEN = set(sys.argv[1:])
sys.meta_path.insert(0, _Hide())
"""

MODULES = "\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"

NEVER_ON_IMPORT = ("psfleet.cli", "psfleet.simfleet", "psfleet.testing", "psfleet_plugins")
NEVER_FOR_RUN_HELP = ("psfleet.simfleet", "psfleet.testing", "aiohttp.web", "yaml")


def python(script: str, *, hide: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    prelude = HIDE if hide else ""
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(script), *hide],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def modules_after(script: str, *, hide: tuple[str, ...] = ()) -> set[str]:
    done = python(textwrap.dedent(script) + MODULES, hide=hide)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def under(modules: set[str], *packages: str) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


def test_import_psfleet_loads_no_cli_simulator_testing_support_or_plugins() -> None:
    loaded = modules_after("import psfleet")
    assert "psfleet.fanout" in loaded  # the API is there...
    assert under(loaded, *NEVER_ON_IMPORT, "aiohttp.web", "typer") == set()  # ...and only it


def test_import_psfleet_needs_neither_typer_nor_rich() -> None:
    # rich still appears in sys.modules when it is installed: structlog's dev module
    # imports it for pretty tracebacks. With both hidden, psfleet must import all the same.
    loaded = modules_after("import psfleet; psfleet.run, psfleet.Fleet", hide=("typer", "rich"))
    assert under(loaded, "rich", "typer") == set()
    assert under(modules_after("import psfleet"), "rich") <= under(
        modules_after("import structlog"), "rich"
    )


def test_run_help_loads_the_cli_but_not_the_simulator() -> None:
    loaded = modules_after(
        """
        import sys
        from psfleet.cli.app import main
        sys.argv = ["psfleet", "run", "--help"]
        try:
            main()
        except SystemExit as done:
            assert done.code == 0, done.code
        """
    )
    assert {"typer", "psfleet.cli.run", "psfleet.cli.sim"} <= loaded
    assert under(loaded, *NEVER_FOR_RUN_HELP) == set()


def test_the_sim_command_imports_the_simulator_when_it_runs() -> None:
    # An unknown fault kind is refused by the simulator's own config, after the import.
    done = python(
        """
        import sys
        from psfleet.cli.app import main
        sys.argv = ["psfleet", "sim", "--faults", "melt:5%"]
        try:
            main()
        except SystemExit as exit:
            print(exit.code, "psfleet.simfleet.config" in sys.modules)
        """
    )
    assert done.stdout.split() == ["2", "True"], done.stderr
    assert "unknown fault kind" in done.stderr


def test_import_psfleet_configures_no_logging() -> None:
    done = python(
        """
        import logging, structlog
        handlers = list(logging.getLogger().handlers)
        import psfleet
        assert not structlog.is_configured()
        assert logging.getLogger().handlers == handlers
        assert logging.getLogger("psfleet").handlers == []
        print("ok")
        """
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_a_library_user_keeps_their_structlog_configuration_and_gets_events_via_logging() -> None:
    done = python(
        """
        import logging, structlog
        structlog.configure(processors=[structlog.processors.KeyValueRenderer()])
        theirs = structlog.get_config()["processors"]
        import psfleet.logs

        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record)
        logging.getLogger("psfleet").addHandler(Keep())
        logging.getLogger("psfleet").setLevel(logging.INFO)
        psfleet.logs.get_logger("psfleet.run").info("host done", host="node01")
        psfleet.logs.get_logger("psfleet.run").debug("below the level", host="node01")

        assert structlog.get_config()["processors"] is theirs
        [record] = records
        assert record.name == "psfleet.run"
        assert {"event": "host done", "host": "node01"}.items() <= record.msg.items()
        print("ok")
        """
    )
    assert done.stdout.strip() == "ok", done.stderr


@pytest.fixture(scope="module")
def one_host() -> Iterator[ThreadedFleet]:
    with fleet_in_thread(SimConfig(hosts=1, base_address="127.0.0.1", port=0)) as fleet:
        yield fleet


def test_without_gssapi_psfleet_imports_and_kerberos_names_what_to_install(
    one_host: ThreadedFleet,
) -> None:
    host = one_host.hosts[0]
    done = python(
        f"""
        import json, sys
        import psfleet
        assert "gssapi" not in sys.modules
        result = psfleet.run(
            [{host.address!r}], "1", port={host.port}, auth="kerberos", credential="kerberos",
            retries=0, host_timeout=30,
        )
        [host] = result
        print(json.dumps([host.status.value, host.error_type, host.error_message, host.remedy]))
        """,
        hide=("gssapi",),
    )
    assert done.returncode in (0, 1), done.stderr
    status, error_type, message, remedy = json.loads(done.stdout.splitlines()[-1])
    assert (status, error_type) == ("auth_failed", "AuthError")
    assert "gssapi" in message
    assert "pip install pyspnego[kerberos]" in remedy

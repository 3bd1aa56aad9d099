"""psfleet as a user installs it: the wheel, in a fresh venv outside the checkout.

The wheel is built from a copy of what the build reads (so no build/ lands in the checkout);
its dependencies come from pip's own configuration and cache, capped by .ci/constraints.txt
when the checkout has one. Then, with that venv's tools only and nowhere near the checkout:
`psfleet --version`, `psfleet sim` with `psfleet run` against it, and a user's test file that
uses the pytest plugin's fixtures (found through the wheel's pytest11 entry point).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[3]
BUILD_INPUTS = ("pyproject.toml", "README.md", "engine", "plugins")
CONSTRAINTS = ROOT / ".ci" / "constraints.txt"
SIM_ADDRESS = "127.21.10.1"
STEP_TIMEOUT_S = 600  # pip resolving on a machine shared with other test runs

USER_TEST = '''
"""A user's tests of their own automation, with psfleet's fixtures and no conftest."""

import importlib.util
import sys

import psfleet


def restart_report(lab):
    """The user's automation: which hosts answered, by name."""
    result = psfleet.run(lab.targets, "$env:COMPUTERNAME", inventory=lab.inventory,
                         credential=lab.credential)
    return {name: host.status.value for name, host in result.hosts.items()}, result


def test_psfleet_is_the_installed_wheel_without_psfleets_own_test_support():
    assert psfleet.__file__.startswith(sys.prefix)
    assert importlib.util.find_spec("psfleet.testing.pytest_plugin") is not None
    assert importlib.util.find_spec("psfleet.testing.captures") is None


def test_every_host_of_the_default_lab_answers(simlab):
    statuses, result = restart_report(simlab)
    assert statuses == {"node01": "ok", "node02": "ok", "node03": "ok"}
    assert result.hosts["node03"].output == ["NODE03"]


def test_a_refusing_host_is_reported_unreachable(simfleet):
    lab = simfleet(hosts=2, faults="refuse:node02", subprocess=True,
                   base_address="127.21.11.1", accounts={"LAB\\\\ops": "0ps-Passw0rd"})
    statuses, _ = restart_report(lab)
    assert statuses == {"node01": "ok", "node02": "unreachable"}
    assert lab.stats("node01")["auth_failures"] == 0
'''


def _clean_env(venv: Path) -> dict[str, str]:
    """This process's environment minus whatever would point the venv back at the checkout
    (or at another test's realm and users)."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NTLM_USER_FILE", "PYTEST_ADDOPTS")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(("KRB5", "PYTEST_"))
    }
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


def _check(
    args: list[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, (
        f"{args[:3]} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel just built from this checkout, and pytest."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    dist = work / "dist"
    _check([sys.executable, "-m", "pip", "wheel", "--no-deps", ".", "-w", dist], cwd=source)
    (wheel,) = dist.glob("psfleet-*.whl")
    environment = work / "venv"
    _check([sys.executable, "-m", "venv", environment])
    constraints = ["-c", CONSTRAINTS] if CONSTRAINTS.is_file() else []
    _check(
        [environment / "bin" / "python", "-m", "pip", "install", "-q",
         "--find-links", dist, *constraints, wheel, f"pytest=={pytest.__version__}"],
        env=_clean_env(environment),
        cwd=work,
    )  # fmt: skip
    return environment


def test_the_installed_command_reports_the_wheels_version(venv: Path, tmp_path: Path) -> None:
    done = _check([venv / "bin" / "psfleet", "--version"], env=_clean_env(venv), cwd=tmp_path)
    (wheel,) = (venv.parent / "dist").glob("psfleet-*.whl")
    version = wheel.name.split("-")[1]
    assert done.stdout.strip() == f"psfleet {version}"


def test_psfleet_run_reaches_every_host_of_a_background_psfleet_sim(
    venv: Path, tmp_path: Path
) -> None:
    env = _clean_env(venv)
    inventory = tmp_path / "lab.yml"
    sim = subprocess.Popen(
        [venv / "bin" / "psfleet", "sim", "--hosts", "3", "--base-address", SIM_ADDRESS,
         "--port", "0", "--inventory", inventory],
        stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert sim.stdout is not None
        ready = sim.stdout.readline()
        assert ready.startswith("ready hosts=3 "), ready
        done = _check(
            [venv / "bin" / "psfleet", "run", "node[01-03]", "--inventory", inventory,
             "-u", "LAB\\admin", "--json", "-c", "$env:COMPUTERNAME"],
            env={**env, "PSFLEET_PASSWORD": "psfleet-demo"}, cwd=tmp_path,
        )  # fmt: skip
    finally:
        sim.send_signal(signal.SIGTERM)
        stopped = sim.communicate(timeout=60)[0]
    events = [json.loads(line) for line in done.stdout.splitlines()]
    statuses = {e["host"]: e["status"] for e in events if e["event"] == "host_done"}
    assert statuses == {"node01": "ok", "node02": "ok", "node03": "ok"}
    outputs = {e["host"]: e["data"] for e in events if e["event"] == "record"}
    assert outputs == {"node01": "NODE01", "node02": "NODE02", "node03": "NODE03"}
    assert sim.returncode == 0 and "stopped" in stopped


def test_a_users_tests_get_the_simulated_fleet_fixtures_from_the_wheel(
    venv: Path, tmp_path: Path
) -> None:
    project = tmp_path / "my-automation"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # the rootdir: here
    (project / "test_my_automation.py").write_text(USER_TEST, encoding="utf-8")
    done = subprocess.run(
        [venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, env=_clean_env(venv), cwd=project,
        timeout=STEP_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b3 passed\b", done.stdout), done.stdout

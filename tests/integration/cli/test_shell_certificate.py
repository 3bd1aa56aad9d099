"""psfleet shell with a client certificate: it takes the same connection options as run."""

from __future__ import annotations

from pathlib import Path

from psfleet.testing.sim_process import sim_process
from tests.support.ports import free_port
from tests.support.psfleet_cli import run_psfleet

ADDRESS = "127.23.0.1"


def test_shell_opens_a_session_with_a_client_certificate_and_runs_as_its_user(
    tmp_path: Path,
) -> None:
    inventory = tmp_path / "inventory.yml"
    with sim_process(
        "--hosts", "1", "--tls", "--base-address", ADDRESS, "--port", str(free_port(ADDRESS)),
        "--inventory", str(inventory), "--state-dir", str(tmp_path), "--client-cert", "admin",
    ) as sim:  # fmt: skip
        tls = tmp_path / "tls"
        done = run_psfleet(
            "shell", "node01", "--inventory", str(inventory), "--ssl", "--auth", "certificate",
            "--client-cert", str(tls / "client-admin@lab.pem"),
            "--client-key", str(tls / "client-admin@lab-key.pem"),
            "--ca-file", sim.fields["ca"],
            input="whoami\nexit\n",
            password="",
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "lab\\admin" in done.stdout.lower()

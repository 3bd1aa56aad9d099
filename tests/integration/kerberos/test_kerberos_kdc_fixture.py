"""MitKdc itself: principals added after start, errors without secrets, cleanup, env."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import spnego

from psfleet.testing.kdc import MitKdc, MitKdcError

pytestmark = pytest.mark.kerberos


def accepted_principal(hostname: str) -> str | None:
    client = spnego.client(hostname=hostname, service="HTTP", protocol="kerberos")
    server = spnego.server(protocol="kerberos")
    server.step(client.step())
    assert server.complete
    return server.client_principal


def test_wrong_password_is_a_clear_error_without_the_password(kdc: MitKdc, tmp_path: Path) -> None:
    wrong = "Not-The-Passw0rd"
    with pytest.raises(MitKdcError) as info:
        kdc.kinit(password=wrong, ccache=f"FILE:{tmp_path}/ccache")
    message = str(info.value)
    assert "Password incorrect" in message
    assert wrong not in message
    assert wrong not in repr(info.value)


def test_hosts_added_after_start_are_served_at_once(kdc: MitKdc) -> None:
    kdc.add_hosts(["NODE03"])  # MIT lowercases host-based SPNs; so do we
    assert accepted_principal("node03") == "admin@LAB.TEST"
    names = [f"bulk{i:03d}" for i in range(300)]
    kdc.add_hosts(names)
    kdc.add_hosts(names)  # known names are skipped, not an error
    assert {"node01", "node02", "node03", *names} <= kdc.hosts
    assert accepted_principal("bulk299.lab.test") == "admin@LAB.TEST"


def test_keytab_for_holds_only_that_hosts_keys(kdc: MitKdc) -> None:
    listing = subprocess.run(
        ["klist", "-k", f"FILE:{kdc.keytab_for('NODE01')}"],
        env={**os.environ, **kdc.env},
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    principals = {line.split()[-1] for line in listing.stdout.splitlines() if "HTTP/" in line}
    assert principals == {"HTTP/node01@LAB.TEST", "HTTP/node01.lab.test@LAB.TEST"}
    with pytest.raises(MitKdcError, match="add_hosts"):
        kdc.keytab_for("unknown-host")


def test_host_names_that_could_inject_kadmin_commands_are_refused(kdc: MitKdc) -> None:
    with pytest.raises(MitKdcError, match="not a valid host name"):
        kdc.add_hosts(["node04\ndelprinc -force admin"])


def test_lifecycle_leaves_nothing_behind() -> None:
    secret = "Lifecycle-Passw0rd"
    with MitKdc(password=secret, hosts=["solo"]) as other:
        assert secret not in repr(other)
        assert other.running
        assert other._proc is not None
        pid = other._proc.pid
        workdir = other.workdir
        assert workdir.is_dir()
    assert not other.running
    assert not workdir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    other.stop()  # idempotent


def test_failed_start_cleans_up() -> None:
    broken = MitKdc(hosts=["bad name"])
    with pytest.raises(MitKdcError):
        broken.start()
    assert not broken.running
    assert not broken.workdir.exists()


def test_env_is_applied_and_restored(kdc: MitKdc) -> None:
    with MitKdc(hosts=["solo"]) as other:
        with other.applied_env():
            assert os.environ["KRB5_CONFIG"] == other.env["KRB5_CONFIG"]
            assert os.environ["KRB5_KTNAME"] == f"FILE:{other.keytab}"
        assert os.environ["KRB5_CONFIG"] == kdc.env["KRB5_CONFIG"]
        # The MIT tools read the same env: klist -k finds the keytab via KRB5_KTNAME.
        listing = subprocess.run(
            ["klist", "-k"],
            env={**os.environ, **other.env},
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert "HTTP/solo@LAB.TEST" in listing.stdout
        assert "HTTP/solo.lab.test@LAB.TEST" in listing.stdout

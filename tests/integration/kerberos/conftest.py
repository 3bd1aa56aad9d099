"""A real MIT KDC for the Kerberos tests: one per session, its env applied per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from psfleet.testing.kdc import MitKdc, available, missing_binaries

PASSWORD = "Adm1n-Passw0rd!"
HOSTS = ("node01", "node02")


@pytest.fixture(scope="session")
def kdc() -> Iterator[MitKdc]:
    if not available():
        pytest.skip(
            "!!! KERBEROS TESTS NOT RUN: missing "
            + ", ".join(missing_binaries())
            + ". Install krb5-kdc krb5-admin-server krb5-user libkrb5-dev "
            "(`make test` installs them) !!!"
        )
    with MitKdc(password=PASSWORD, hosts=HOSTS) as server:
        server.kinit()
        yield server


@pytest.fixture(autouse=True)
def kerberos_env(kdc: MitKdc) -> Iterator[MitKdc]:
    # gssapi reads KRB5_* from os.environ; set them for each test only, so
    # tests outside this directory never see this realm.
    with kdc.applied_env():
        yield kdc

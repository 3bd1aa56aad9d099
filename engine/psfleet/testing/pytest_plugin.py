"""pytest fixtures to test your own automation against a simulated fleet (docs/testing.md).

Installing psfleet registers this module through pytest's `pytest11` entry point, so the
fixtures need no conftest:

    def test_the_report_names_the_unreachable_host(simfleet):
        lab = simfleet(hosts=3, faults="refuse:node03")
        result = psfleet.run(lab.targets, "hostname", inventory=lab.inventory,
                             credential=lab.credential)
        assert result.hosts["node03"].status is psfleet.HostStatus.UNREACHABLE

- `simfleet`: a factory; each call starts a fleet, every one stops when the test ends.
- `simlab`: three healthy hosts, for tests that need nothing special.
- `mit_kdc`: a real MIT KDC (realm LAB.TEST) whose env is applied for the test; pass it as
  `simfleet(kdc=mit_kdc)` and the hosts accept Kerberos, delegation included.

The simulator is imported when a fixture first starts a fleet, never at collection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack

import pytest

from psfleet.testing.kdc import MitKdc, available, missing_binaries
from psfleet.testing.lab import DEFAULT_BASE_ADDRESS, LabSettings, SimLab
from psfleet.testing.lab_runners import lab_as_process, lab_in_thread

__all__ = ["SimFleetStarter", "mit_kdc", "simfleet", "simlab"]


class SimFleetStarter:
    """`simfleet(...)`: start a simulated fleet for this test and get its `SimLab`."""

    def __init__(self, stack: ExitStack, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._stack = stack
        self._tmp = tmp_path_factory

    def __call__(
        self,
        hosts: int = 3,
        *,
        cluster: str | None = None,
        faults: str = "",
        seed: int = 0,
        accounts: Mapping[str, str] | None = None,
        tls: bool = False,
        rtt_ms: float = 0.0,
        allow_unencrypted: bool = False,
        lockout_threshold: int = 0,
        base_address: str = DEFAULT_BASE_ADDRESS,
        kdc: MitKdc | None = None,
        subprocess: bool = False,
    ) -> SimLab:
        """Hosts node01..nodeNN on loopback, each on a free port.

        `faults` is simfleet's spec ("refuse:node03", "authfail:10%", "delay:node02@250ms");
        `accounts` maps `DOMAIN\\user` (or `user`, domain LAB) to a password, the first one
        being `lab.credential` (default: LAB\\admin / psfleet-demo). `subprocess=True` runs
        `psfleet sim` as its own process instead of a thread of this one.
        """
        settings = LabSettings(
            hosts=hosts,
            cluster=cluster,
            faults=faults,
            seed=seed,
            accounts=accounts,
            tls=tls,
            rtt_ms=rtt_ms,
            allow_unencrypted=allow_unencrypted,
            lockout_threshold=lockout_threshold,
            base_address=base_address,
            kdc=kdc,
        )
        runner = lab_as_process if subprocess else lab_in_thread
        return self._stack.enter_context(runner(settings, self._tmp.mktemp("simfleet")))


@pytest.fixture
def simfleet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimFleetStarter]:
    """A factory of simulated fleets; each one stops when the test ends."""
    if "mit_kdc" in request.fixturenames:
        # Set up first, torn down last: the KDC's env outlives every fleet that uses it.
        request.getfixturevalue("mit_kdc")
    with ExitStack() as stack:
        yield SimFleetStarter(stack, tmp_path_factory)


@pytest.fixture
def simlab(simfleet: SimFleetStarter) -> SimLab:
    """Three healthy simulated hosts (node01-node03), LAB\\admin / psfleet-demo."""
    return simfleet()


@pytest.fixture(scope="session")
def psfleet_kdc_server() -> Iterator[MitKdc]:
    """One MIT KDC for the whole session (starting one costs ~0.1 s, adding hosts more)."""
    if not available():
        pytest.skip(
            "no MIT KDC: install " + ", ".join(missing_binaries()) + " (Debian: krb5-kdc "
            "krb5-admin-server krb5-user)"
        )
    with MitKdc() as kdc:
        kdc.kinit()
        yield kdc


@pytest.fixture
def mit_kdc(psfleet_kdc_server: MitKdc) -> Iterator[MitKdc]:
    """The session's KDC with its KRB5_* env applied for this test only: a forwardable TGT
    of `kdc.principal` (admin@LAB.TEST, password `kdc.password`) is in the default ccache."""
    with psfleet_kdc_server.applied_env():
        yield psfleet_kdc_server

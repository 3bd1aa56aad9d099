"""The simulator's building blocks: fault plans, addresses, accounts, stats, fragments, certs."""

import ssl
import uuid
from pathlib import Path

import psrpcore
import pytest
from cryptography import x509

from psfleet.errors import UsageError
from psfleet.simfleet import accounts, addresses
from psfleet.simfleet.certs import FleetCA, HostIdentity
from psfleet.simfleet.faults import FaultKind, plan_faults
from psfleet.simfleet.outbox import pipeline_id_of, split_fragments
from psfleet.simfleet.stats import Counter as C
from psfleet.simfleet.stats import FleetStats

HOSTS = [f"node{i:03d}" for i in range(1, 501)]


def test_fault_shares_are_seeded_and_exact() -> None:
    plan = plan_faults("refuse:5%,blackhole:2%,drop:3%", HOSTS, seed=7)
    counts = {kind: sum(1 for f in plan.values() if f.kind is kind) for kind in FaultKind}
    assert counts[FaultKind.REFUSE] == 25
    assert counts[FaultKind.BLACKHOLE] == 10
    assert counts[FaultKind.DROP] == 15
    assert plan == plan_faults("refuse:5%,blackhole:2%,drop:3%", HOSTS, seed=7)
    assert plan != plan_faults("refuse:5%,blackhole:2%,drop:3%", HOSTS, seed=8)


def test_explicit_host_lists_and_parameters() -> None:
    plan = plan_faults("refuse:node003,node007,delay:node010@250ms,http503:node011@2", HOSTS, 0)
    assert plan["node003"].kind is plan["node007"].kind is FaultKind.REFUSE
    assert plan["node010"].kind is FaultKind.DELAY and plan["node010"].param == 250
    assert plan["node011"].kind is FaultKind.HTTP503 and plan["node011"].param == 2
    assert plan["node001"].none


@pytest.mark.parametrize(
    "spec", ["bogus:5%", "refuse", "refuse:node999", "delay:node001@fast", "refuse:"]
)
def test_bad_fault_specs_are_usage_errors(spec: str) -> None:
    with pytest.raises(UsageError):
        plan_faults(spec, HOSTS, 0)


def test_addresses_skip_network_and_broadcast_parts_and_stay_on_loopback() -> None:
    assert addresses.allocate("127.1.0.254", 3) == ["127.1.0.254", "127.1.1.1", "127.1.1.2"]
    assert len(set(addresses.allocate("127.1.0.1", 5000))) == 5000
    with pytest.raises(UsageError):
        addresses.allocate("10.0.0.1", 1)
    with pytest.raises(UsageError):
        addresses.allocate("127.255.255.250", 10)


def test_accounts_match_like_windows_and_hide_passwords(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("# demo\nLAB\\admin:s3cret\nops:other-secret\n")
    found = accounts.load_accounts(users)
    admin = found.find("lab\\ADMIN")
    assert admin is not None and admin.password == "s3cret"
    assert found.find("admin@lab") is found.find("admin") is admin
    ops = found.find("ops")
    assert ops is not None and ops.domain == "LAB"
    assert "s3cret" not in repr(found) and "s3cret" not in repr(found.all[0])
    ntlm = found.write_ntlm_file(tmp_path / "ntlm")
    first = ntlm.read_text().splitlines()[0]
    assert first.startswith("LAB\\admin:1000:") and "s3cret" not in ntlm.read_text()
    users.write_text("no-colon-here\n")
    with pytest.raises(UsageError):
        accounts.load_accounts(users)


def test_stats_rows_sum_to_fleet_totals() -> None:
    stats = FleetStats(["a", "b"])
    stats.add(stats.row("a"), C.SHELLS_OPENED, 2)
    stats.add(stats.row("B"), C.SHELLS_OPENED)
    snapshot = stats.snapshot()
    assert snapshot["shells_opened"] == 3
    assert snapshot["hosts"]["a"]["shells_opened"] == 2
    assert stats.snapshot("b")["shells_opened"] == 1
    assert set(snapshot) >= {
        "shells_open",
        "shells_opened",
        "commands_run",
        "executions",
        "auth_failures",
        "bytes_in",
        "bytes_out",
        "hosts",
    }


def test_fragments_are_split_and_pipeline_ids_read() -> None:
    pool = psrpcore.ClientRunspacePool()
    pool.open()
    payload = pool.data_to_send()
    assert payload is not None
    fragments = split_fragments(payload.data)
    assert len(fragments) == 2  # SESSION_CAPABILITY and INIT_RUNSPACEPOOL
    assert b"".join(fragments) == payload.data
    assert pipeline_id_of(fragments[0]) is None
    ps = psrpcore.ClientPowerShell(pool)
    ps.add_script("1")
    pool.state = psrpcore.types.RunspacePoolState.Opened
    ps.start()
    command = pool.data_to_send()
    assert command is not None and command.pipeline_id == ps.pipeline_id
    assert pipeline_id_of(split_fragments(command.data)[0]) == ps.pipeline_id
    assert isinstance(ps.pipeline_id, uuid.UUID)


def test_host_certificates_chain_to_the_fleet_ca(tmp_path: Path) -> None:
    ca = FleetCA(tmp_path)
    identity = HostIdentity("node01", "node01.lab.test", "127.1.0.1")
    cert = x509.load_pem_x509_certificate(ca.issue(identity).read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "node01.lab.test" in names.get_values_for_type(x509.DNSName)
    client = ssl.create_default_context(cafile=str(ca.ca_file))
    assert client.verify_mode == ssl.CERT_REQUIRED
    assert isinstance(ca.server_context(identity), ssl.SSLContext)
    reloaded = FleetCA(tmp_path)  # a worker process loads the same CA
    assert reloaded.ca_file.read_bytes() == ca.ca_file.read_bytes()
    cert2 = x509.load_pem_x509_certificate(reloaded.issue(identity).read_bytes())
    assert cert2.issuer == cert.issuer

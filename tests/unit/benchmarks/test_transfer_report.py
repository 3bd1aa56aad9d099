"""The transfer profile's goal rows: each auth's pair compared within itself."""

from benchmarks import transfer, transfer_report


def _record(tool: str, auth: str | None, mb_per_s: float) -> dict[str, object]:
    record: dict[str, object] = {
        "group": "fleet", "tool": tool, "size_mb": 50.0, "hosts": 20, "rtt_ms": 0.0,
        "direction": "push", "status": "ok", "mb_per_s": mb_per_s, "wire_per_payload_byte": 1.78,
    }  # fmt: skip
    if auth is not None:  # results written before the HTTPS pair have no auth: NTLM
        record["auth"] = auth
    return record


def test_the_https_pair_is_compared_with_itself_and_ntlm_with_ntlm() -> None:
    records = [
        _record("psfleet", None, 60.0),
        _record(transfer.PYPSRP, "ntlm", 30.0),
        _record("psfleet", "basic-https", 120.0),
        _record(transfer.PYPSRP, "basic-https", 24.0),
    ]
    goals = transfer_report.goals(records)
    assert "push 50 MB x 20 @ 0 ms | >= 5x | 2.0x (60.0 vs 30.0 MB/s)" in goals
    assert "push 50 MB x 20 @ 0 ms basic-https | >= 5x | 5.0x (120.0 vs 24.0 MB/s)" in goals
    assert "basic-https" in transfer_report.table(records)


def test_the_grid_has_one_https_pair_and_select_finds_it_by_auth() -> None:
    https = transfer.select(transfer.cases(1.0), None, None, None, {"basic-https"})
    assert [(c.tool, c.size_mb, c.hosts, c.rtt_ms) for c in https] == [
        ("psfleet", 50.0, 20, 0.0),
        (transfer.PYPSRP, 50.0, 20, 0.0),
    ]
    assert all("basic-https" in c.name for c in https)

"""One direction of one transfer case, in a process of its own (its peak RSS is the case's).

    python -m benchmarks.transfer_child '{"tool": "psfleet", "direction": "push", ...}'

Marks `start` and `end` around the transfer (benchmarks.protocol: the parent snapshots
the simulator at each), then prints `result`: hosts ok, the first failures, this
process's CPU over the section and its peak RSS. The tool is imported before `start`:
psfleet's import costs about 0.3 s of CPU, which at 10 MB to one host read as 32 ms
per MB moved and hid the transfer's own cost. So does a warm-up: one small file pushed
to (or pulled from) the first host, so that what a process pays once (lazy imports, the
NTLM hash, the scripts) is not in the measured section either; the client's CPU for one
host then compares fairly with its CPU for N hosts.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.protocol import CREDENTIAL, emit, host_names, loopback_addresses, sync


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _targets(spec: dict[str, Any]) -> list[tuple[str, str]]:
    names = host_names(spec["hosts"])
    return list(zip(names, loopback_addresses(spec["base_address"], spec["hosts"]), strict=True))


def _https(spec: dict[str, Any]) -> bool:
    """Basic over TLS (the `basic-https` cases); else NTLM with message encryption."""
    return bool(spec.get("auth") == "basic-https")


def _import(tool: str) -> None:
    """Load the tool's modules outside the measured section (each child imports only its own)."""
    if tool == "psfleet":
        import psfleet  # noqa: F401, PLC0415
        import psfleet.targets.model  # noqa: F401, PLC0415
    else:
        import pypsrp.wsman  # noqa: F401, PLC0415

        import benchmarks.transfer_pypsrp  # noqa: F401, PLC0415


def _psfleet(spec: dict[str, Any]) -> list[str]:
    import psfleet  # noqa: PLC0415 (imported already by _import: a lookup)
    from psfleet.targets.model import Target  # noqa: PLC0415

    targets = [Target(name, address, spec["port"]) for name, address in _targets(spec)]
    settings: dict[str, Any] = {"credential": CREDENTIAL, "throttle": spec["throttle"]}
    if _https(spec):
        settings |= {"auth": "basic", "tls": True, "ca_file": spec["ca_file"]}
    else:
        settings |= {"auth": "ntlm"}
    if spec["direction"] == "push":
        result = psfleet.copy(targets, Path(spec["src"]), spec["dest"], **settings)
    else:
        result = psfleet.fetch(targets, spec["dest"], Path(spec["fetch_dir"]), **settings)
    return [f"{h.host}: {h.error_message}" for h in result if not h.ok]


def _pypsrp(spec: dict[str, Any]) -> list[str]:
    from pypsrp.wsman import WSMan  # noqa: PLC0415

    from benchmarks import transfer_pypsrp  # noqa: PLC0415

    user, password = CREDENTIAL

    def one(target: tuple[str, str]) -> str | None:
        name, address = target
        https = _https(spec)
        wsman = WSMan(
            address, port=spec["port"], username=user, password=password, ssl=https,
            auth="basic" if https else "ntlm", cert_validation=spec["ca_file"] if https else True,
        )  # fmt: skip
        try:
            if spec["direction"] == "push":
                ok = transfer_pypsrp.push(wsman, Path(spec["src"]), spec["dest"])
            else:
                local = Path(spec["fetch_dir"]) / name / "payload.bin"
                ok = transfer_pypsrp.pull(wsman, spec["dest"], local, spec["size"])
        except Exception as exc:  # a host's failure is a result, not a crash
            return f"{name}: {type(exc).__name__}: {exc}"[:300]
        return None if ok else f"{name}: errors or a hash mismatch"

    with ThreadPoolExecutor(spec["threads"]) as pool:
        return [failure for failure in pool.map(one, _targets(spec)) if failure]


WARM_UP_BYTES = 64 * 1024


def _warm_up(run: Any, spec: dict[str, Any]) -> None:
    """One small file to or from the first host, outside the measured section."""
    with tempfile.TemporaryDirectory(prefix="transfer-warm-up-") as scratch:
        src = Path(scratch) / "warm-up.bin"
        src.write_bytes(os.urandom(WARM_UP_BYTES))
        warm = spec | {
            "hosts": 1,
            "size": WARM_UP_BYTES,
            "src": str(src),
            "dest": spec["dest"] + ".warm-up",
            "fetch_dir": str(Path(scratch) / "fetched"),
        }
        failed = run(warm)
        if failed:
            raise SystemExit(f"the warm-up failed: {failed[0]}")


def main(spec: dict[str, Any]) -> None:
    run = _psfleet if spec["tool"] == "psfleet" else _pypsrp
    _import(spec["tool"])
    _warm_up(run, spec)
    sync("start")
    cpu, started = _cpu_s(), time.monotonic()
    failed = run(spec)
    wall, cpu = time.monotonic() - started, _cpu_s() - cpu
    sync("end")
    emit(
        "result",
        failed=len(failed),
        failures=failed[:3],
        wall_s=wall,
        client_cpu_s=cpu,
        client_peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

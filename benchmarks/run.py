"""Run a profile: one simulator per fleet shape, its cases, probes and profile; write JSON.

The JSON is rewritten after every case, so an interrupted run keeps what it measured.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import machine
from benchmarks.cases import Case, Fleet, Profile, Tool
from benchmarks.kdc import FleetKdc
from benchmarks.placement import Placement
from benchmarks.probes import run_cold_profile, run_probe
from benchmarks.protocol import host_names
from benchmarks.simulator import BASE_ADDRESS, Simulator
from benchmarks.supervise import run_case

SCHEMA = 1


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def header(profile: Profile, placement: Placement, command: list[str]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "profile": profile.as_json(),
        "command": command,
        "started": _now(),
        "finished": None,
        "machine": machine.machine(),
        "versions": machine.versions(),
        "git": machine.git(),
        "placement": placement.as_json(),
        "load_before": machine.load(),
        "load_after": None,
        "cases": [],
        "warm_ups": [],  # the unrecorded passes of Profile.warm_up, for the record
        "probes": [],
        "cold_profile": None,
    }


def save(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    temporary.replace(path)


def one_line(record: dict[str, Any]) -> str:
    if record.get("wall_s") is None:
        return f"{record['status']}: {record.get('note')}"
    return (
        f"{record['status']}, {record['ok']}/{record['hosts']} ok in {record['wall_s']:.1f} s, "
        f"{record['hosts_per_s']:.1f} hosts/s, client {record['client_cpu_ms_per_host']:.1f} "
        f"ms/host, server {record['server_cpu_ms_per_host']:.1f} ms/host ({record['bound']})"
    )


def run_profile(profile: Profile, placement: Placement, out_dir: Path, command: list[str]) -> Path:
    document = header(profile, placement, command)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"{profile.name}-{stamp}.json"
    save(path, document)
    total = len(profile.cases)
    for fleet in profile.fleets():
        cases = [c for c in profile.cases if c.fleet == fleet]
        probe = fleet in profile.probes
        cold_profile = fleet == profile.profile_fleet
        if not (cases or probe or cold_profile):
            continue
        with tempfile.TemporaryFile("w+") as log:
            try:
                with (
                    _kdc_for(fleet, placement) as kdc,
                    Simulator(
                        fleet,
                        log,
                        cpus=placement.server,
                        kdc=kdc,
                        base_address=profile.base_address or BASE_ADDRESS,
                    ) as sim,
                ):
                    if profile.warm_up and cases:
                        say(f"warming the simulator up: cold NTLM over its {fleet.hosts} hosts")
                        document["warm_ups"].append(run_case(_warm_up(fleet), sim, placement))
                    for case in cases:
                        done = len(document["cases"]) + 1
                        say(f"[{done}/{total}] {case.name} ...")
                        record = run_case(case, sim, placement)
                        # Others may commit while a long profile runs: say what each case ran.
                        code = machine.git()
                        record["code"] = {"commit": code["commit"], "changed": len(code["changed"])}
                        document["cases"].append(record)
                        say(f"    {one_line(document['cases'][-1])}")
                        save(path, document)
                    if probe:
                        say(f"psfleet bench on {fleet.hosts} hosts at {fleet.rtt_ms:g} ms ...")
                        document["probes"].append(run_probe(fleet, sim, placement))
                    if cold_profile:
                        say(f"profiling the cold path on {profile.profile_hosts} hosts ...")
                        hosts = profile.profile_hosts
                        document["cold_profile"] = run_cold_profile(sim, placement, hosts)
            # The simulator or the KDC did not start (MitKdcError is a RuntimeError): say so.
            except RuntimeError as exc:
                document["cases"].extend(_not_run(case, str(exc)) for case in cases)
        save(path, document)
    document["load_after"] = machine.load()
    document["finished"] = _now()
    save(path, document)
    return path


def _kdc_for(
    fleet: Fleet, placement: Placement
) -> contextlib.AbstractContextManager[FleetKdc | None]:
    if not fleet.kdc:
        return contextlib.nullcontext()
    say(f"starting a KDC with HTTP/<host> keys for {fleet.hosts} hosts ...")
    return FleetKdc(host_names(fleet.hosts), cpus=placement.server)


def _warm_up(fleet: Fleet) -> Case:
    return Case("cold", fleet, Tool("psfleet"), "ntlm", time_limit_s=120.0)


def _not_run(case: Case, reason: str) -> dict[str, Any]:
    return case.as_json() | {"status": "not run", "note": reason}

"""`python -m benchmarks --profile quick|full`: psfleet and its peers on one simulated fleet.

    python -m benchmarks --profile quick                 # make bench: a few minutes
    python -m benchmarks --profile full                  # make bench-full: everything
    python -m benchmarks --profile full --hosts 5000 --tools psfleet --kinds cold
    python -m benchmarks --profile kerberos --hosts 100  # Kerberos cases, a smoke run
    python -m benchmarks --profile transfer --scale 0.02 # copy/fetch, files 1/50 the size
    python -m benchmarks --list                          # the cases, without running
    python -m benchmarks.report benchmarks/results/quick-....json   # plots and docs again

Results go to benchmarks/results/<profile>-<time>.json; plots to docs/*.png and the
figures table into docs/performance.md (unless --no-docs).
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from benchmarks import transfer
from benchmarks.cases import PROFILES, Fleet, Profile, Tool
from benchmarks.placement import Placement
from benchmarks.report import write_docs
from benchmarks.run import run_profile, say
from benchmarks.supervise import ROOT


def parse_args(argv: list[str]) -> argparse.Namespace:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=summary)
    parser.add_argument("--profile", choices=sorted([*PROFILES, "transfer"]), default="quick")
    parser.add_argument("--tools", help="only these, e.g. psfleet,pypsrp-256")
    parser.add_argument("--kinds", help="only these workloads: cold,warm,large")
    parser.add_argument("--auth", help="only these: ntlm,basic-https,kerberos,negotiate,...")
    parser.add_argument("--hosts", help="only these fleet sizes, e.g. 100,1000")
    parser.add_argument("--rtt", help="only these RTTs in ms, e.g. 0,20")
    parser.add_argument("--time-limit", type=float, help="seconds per case (else the profile's)")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="transfer: file sizes times this, e.g. 0.02"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin client and simulator")
    parser.add_argument("--no-extras", action="store_true", help="skip psfleet bench and profile")
    parser.add_argument("--no-docs", action="store_true", help="leave docs/ as it is")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--list", action="store_true", help="print the cases and exit")
    return parser.parse_args(argv)


def select(profile: Profile, args: argparse.Namespace) -> Profile:
    def wanted(value: str | None) -> set[str] | None:
        return {part.strip() for part in value.split(",")} if value else None

    tools, kinds, auths = wanted(args.tools), wanted(args.kinds), wanted(args.auth)
    hosts, rtts = wanted(args.hosts), wanted(args.rtt)
    if tools:
        for label in tools:
            Tool.parse(label)  # a typo fails now, not after an hour

    def fleet_wanted(fleet: Fleet) -> bool:
        return (hosts is None or str(fleet.hosts) in hosts) and (
            rtts is None or f"{fleet.rtt_ms:g}" in rtts
        )

    cases = [
        dataclasses.replace(c, time_limit_s=args.time_limit or c.time_limit_s)
        for c in profile.cases
        if (tools is None or c.tool.label in tools)
        and (kinds is None or c.kind in kinds)
        and (auths is None or c.auth in auths)
        and fleet_wanted(c.fleet)
    ]
    extras = not args.no_extras and (tools is None or "psfleet" in tools)
    probes = [f for f in profile.probes if extras and fleet_wanted(f)]
    cold = profile.profile_fleet
    cold = cold if extras and cold is not None and fleet_wanted(cold) else None
    return dataclasses.replace(profile, cases=cases, probes=probes, profile_fleet=cold)


def _wanted(value: str | None) -> set[str] | None:
    return {part.strip() for part in value.split(",")} if value else None


def main_transfer(args: argparse.Namespace, argv: list[str]) -> int:
    cases = transfer.select(
        transfer.cases(args.scale),
        _wanted(args.tools),
        _wanted(args.hosts),
        _wanted(args.rtt),
        _wanted(args.auth),
    )
    if args.list:
        for case in cases:
            print(f"{case.name}  push, then pull (limit {case.time_limit_s:g} s each)")
        return 0
    placement = Placement.choose(pin=not args.no_pin)
    command = ["python", "-m", "benchmarks", *argv]
    say(f"{shlex.join(command)}: {len(cases)} transfer cases, placement {placement.as_json()}")
    path = transfer.run_transfer(cases, placement, args.out, command, args.scale)
    say(f"results: {path}")
    if not args.no_docs:
        for written in write_docs(path):
            say(f"wrote {written}")
    return 0


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.profile == "transfer":
        return main_transfer(args, argv)
    profile = select(PROFILES[args.profile](), args)
    if args.list:
        for case in profile.cases:
            print(f"{case.name}  (limit {case.time_limit_s:g} s)")
        for fleet in profile.probes:
            print(f"psfleet bench on {fleet.hosts} hosts at {fleet.rtt_ms:g} ms")
        if profile.profile_fleet is not None:
            print(f"cold-path profile on {profile.profile_hosts} hosts")
        return 0
    placement = Placement.choose(pin=not args.no_pin)
    command = ["python", "-m", "benchmarks", *argv]
    say(f"{shlex.join(command)}: {len(profile.cases)} cases, placement {placement.as_json()}")
    path = run_profile(profile, placement, args.out, command)
    say(f"results: {path}")
    if not args.no_docs:
        for written in write_docs(path):
            say(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

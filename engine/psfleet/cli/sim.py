"""`psfleet sim`: start a simulated fleet of WinRM/PSRP hosts on loopback addresses.

The simulator (a PowerShell subset, aiohttp's server) is imported only when the command
runs: every other command, and `--help`, starts without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from psfleet.errors import UsageError

if TYPE_CHECKING:
    from psfleet.simfleet.config import SimConfig


def sim(
    hosts: Annotated[int, typer.Option("--hosts", min=1, max=60000, help="Number of hosts.")] = 4,
    cluster: Annotated[
        str | None, typer.Option(help="Make every host a node of this failover cluster.")
    ] = None,
    base_address: Annotated[
        str, typer.Option(help="First loopback address; hosts count up from it.")
    ] = "127.1.0.1",
    port: Annotated[
        int | None, typer.Option(help="Listening port (default 5985, or 5986 with --tls).")
    ] = None,
    tls: Annotated[bool, typer.Option("--tls", help="Serve HTTPS with a generated CA.")] = False,
    rtt_ms: Annotated[float, typer.Option(help="Round-trip time added to every request.")] = 0.0,
    faults: Annotated[
        str, typer.Option(help="Faults to inject, e.g. 'refuse:5%,blackhole:2%' or 'drop:node03'.")
    ] = "",
    seed: Annotated[int, typer.Option(help="Seed that picks which hosts get faults.")] = 0,
    users: Annotated[
        Path | None, typer.Option(help="Accounts file: one [DOMAIN\\]user:password per line.")
    ] = None,
    inventory: Annotated[
        Path | None, typer.Option(help="Write an Ansible-style YAML inventory here when ready.")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes to spread hosts over.")
    ] = 1,
    credssp_off: Annotated[
        str, typer.Option(help="Comma-separated hosts where CredSSP is not enabled (server side).")
    ] = "",
    cbt_hardening: Annotated[
        str,
        typer.Option(
            help="CbtHardeningLevel with --tls: none, relaxed (Windows' default) or strict "
            "(NTLM/Kerberos must carry the channel binding of the host's certificate)."
        ),
    ] = "relaxed",
    allow_unencrypted: Annotated[
        bool, typer.Option(help="AllowUnencrypted=true: Basic and plain bodies over HTTP.")
    ] = False,
    max_shells_per_user: Annotated[int, typer.Option(min=1)] = 30,
    max_concurrent_users: Annotated[int, typer.Option(min=1)] = 10,
    max_processes_per_shell: Annotated[int, typer.Option(min=1)] = 25,
    max_envelope_size: Annotated[int, typer.Option(min=8192)] = 153600,
    idle_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds after which an unused shell is closed.")
    ] = 7200.0,
    state_dir: Annotated[
        Path | None, typer.Option(help="Where certificates and the NTLM user file go.")
    ] = None,
    keytab: Annotated[
        Path | None,
        typer.Option(
            help="Keytab with HTTP/<host> keys: accept Kerberos (KRB5_CONFIG names the realm)."
        ),
    ] = None,
    lockout_threshold: Annotated[
        int,
        typer.Option(
            min=0,
            help="Bad passwords (on any host) that lock an account out of every host; "
            "0 never locks.",
        ),
    ] = 0,
    lockout_duration: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds a locked account stays locked (0: until the fleet restarts)."
        ),
    ] = 1800.0,
    disk_quota: Annotated[
        str | None,
        typer.Option(
            help="What each host's simulated disk holds (bytes, or with KB/MB/GB): a write "
            "past it fails as a full disk does on Windows."
        ),
    ] = None,
    client_cert: Annotated[
        str | None,
        typer.Option(
            help="Write a client certificate for this user into --state-dir "
            "(needs --tls): certificate auth."
        ),
    ] = None,
) -> None:
    """Start a simulated fleet; runs until SIGINT/SIGTERM. Prints a line starting with `ready`."""
    from psfleet.simfleet.config import (  # noqa: PLC0415 - see the docstring
        Quotas,
        SimConfig,
        parse_size,
    )
    from psfleet.simfleet.runner import serve  # noqa: PLC0415

    try:
        config = SimConfig(
            hosts=hosts,
            cluster=cluster,
            base_address=base_address,
            port=port,
            tls=tls,
            rtt_ms=rtt_ms,
            faults=faults,
            seed=seed,
            users_file=users,
            quotas=Quotas(
                max_shells_per_user=max_shells_per_user,
                max_concurrent_users=max_concurrent_users,
                max_processes_per_shell=max_processes_per_shell,
                max_envelope_size=max_envelope_size,
            ),
            credssp_off=tuple(h.strip() for h in credssp_off.split(",") if h.strip()),
            allow_unencrypted=allow_unencrypted,
            idle_timeout_s=idle_timeout,
            state_dir=state_dir,
            kerberos_keytab=keytab,
            cbt_hardening=cbt_hardening,
            lockout_threshold=lockout_threshold,
            lockout_duration_s=lockout_duration,
            disk_quota=parse_size(disk_quota) if disk_quota is not None else None,
        )
        if client_cert is not None:
            _write_client_certificate(config, client_cert)
        serve(config, inventory=inventory, workers=workers)
    except UsageError as exc:
        typer.echo(f"psfleet sim: {exc}", err=True)
        raise typer.Exit(2) from exc


def _write_client_certificate(config: SimConfig, user: str) -> None:
    # Issued before the fleet starts, from the CA the fleet will then load: a known
    # --state-dir is what tells the user where the files are.
    from psfleet.simfleet.certs import FleetCA  # noqa: PLC0415 - only when the command runs

    if not config.tls or config.state_dir is None:
        raise UsageError("--client-cert needs --tls and --state-dir")
    upn = config.client_upn(user)
    cert, key = FleetCA(config.state_dir / "tls").issue_client(upn)
    typer.echo(f"client certificate for {upn}: {cert} (key {key})", err=True)

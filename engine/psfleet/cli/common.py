"""Connection options shared by `psfleet run`, `shell`, `doctor` and `bench`."""

from __future__ import annotations

import dataclasses
import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from psfleet.client import ClientOptions, client_options
from psfleet.errors import UsageError
from psfleet.transport.delegation import DelegationAllowlist
from psfleet.transport.options import ENV_PASSWORD, ENV_USER, AuthMethod, Credential, Timeouts

AUTH_CHOICES = ", ".join(m.value for m in AuthMethod)

Auth = Annotated[
    str,
    typer.Option(
        "--auth",
        help=f"{AUTH_CHOICES}. negotiate uses Kerberos when a ticket and SPN exist, else NTLM.",
    ),
]
User = Annotated[
    str | None,
    typer.Option(
        "-u", "--user", help=f"DOMAIN\\user (default: ${ENV_USER} or the Kerberos cache)."
    ),
]
PasswordFile = Annotated[
    Path | None,
    typer.Option(help=f"Read the password from this file (else ${ENV_PASSWORD}, else a prompt)."),
]
Ssl = Annotated[bool, typer.Option("--ssl", help="HTTPS (port 5986) instead of HTTP.")]
Port = Annotated[int | None, typer.Option(help="WinRM port (default 5985, 5986 with --ssl).")]
CaFile = Annotated[Path | None, typer.Option(help="CA bundle to verify HTTPS hosts against.")]
Insecure = Annotated[
    bool,
    typer.Option(
        "--insecure-skip-tls-verify",
        help="Do NOT verify TLS certificates (anyone on the path can read your credentials).",
    ),
]
ClientCert = Annotated[Path | None, typer.Option(help="Client certificate for --auth certificate.")]
ClientKey = Annotated[Path | None, typer.Option(help="Its private key.")]
Configuration = Annotated[
    str,
    typer.Option(help="Session configuration (endpoint), e.g. a JEA configuration name."),
]
Inventory = Annotated[
    Path | None,
    typer.Option(help="Ansible-style YAML/INI inventory; TARGETS may then name its groups."),
]
DelegateTo = Annotated[
    str | None,
    typer.Option(
        help="CredSSP only: comma-separated hosts (wildcards allowed, e.g. *.lab.local) trusted "
        "to receive your credentials.",
    ),
]
Delegate = Annotated[
    bool, typer.Option("--delegate", help="Kerberos: forward the ticket so a second hop works.")
]
AllowBasicHttp = Annotated[
    bool, typer.Option(help="Allow Basic over plain HTTP (sends the password in clear text).")
]
MaxAuthFailures = Annotated[
    int,
    typer.Option(
        min=1,
        help="Lockout guard: after this many hosts reject a password never accepted (or the "
        "KDC rejects it once), the other hosts are not tried with it (auth_failed).",
    ),
]
ConnectTimeout = Annotated[float, typer.Option(help="Seconds to connect and authenticate.")]
OperationTimeout = Annotated[float, typer.Option(help="Seconds the host holds a Receive poll.")]


@dataclass(frozen=True, slots=True)
class ConnectionArgs:
    auth: str = "negotiate"
    user: str | None = None
    password_file: Path | None = None
    ssl: bool = False
    port: int | None = None
    ca_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None
    configuration_name: str = "Microsoft.PowerShell"
    delegate_to: str | None = None
    delegate: bool = False
    allow_basic_over_http: bool = False
    max_auth_failures: int = 3
    connect_timeout: float = 10.0
    operation_timeout: float = 20.0

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> ConnectionArgs:
        """The connection options among a command's parameters (pass it `locals()`)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def credential(args: ConnectionArgs) -> Credential | None:
    """-u with a password file, $PSFLEET_PASSWORD or a prompt; else $PSFLEET_USER; else Kerberos."""
    method = AuthMethod(args.auth)
    user = args.user or os.environ.get(ENV_USER)
    if method is AuthMethod.CERTIFICATE:
        return None
    if user is None:
        if method in (AuthMethod.NEGOTIATE, AuthMethod.KERBEROS):
            return Credential.kerberos_cache()
        raise UsageError(f"--auth {method.value} needs -u/--user (or ${ENV_USER})")
    if args.password_file is not None:
        try:
            password = args.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise UsageError(f"cannot read --password-file: {exc.strerror}") from exc
        return Credential(user, password)
    if ENV_PASSWORD in os.environ:
        return Credential(user, os.environ[ENV_PASSWORD])
    if method is AuthMethod.KERBEROS and args.user is None:
        return Credential.kerberos_cache()
    if not sys.stdin.isatty():
        raise UsageError(f"no password: use --password-file or ${ENV_PASSWORD} (stdin is no TTY)")
    return Credential(user, getpass.getpass(f"Password for {user}: "))


def delegate_allowlist(args: ConnectionArgs) -> DelegationAllowlist | None:
    if args.delegate_to is None:
        return None
    return DelegationAllowlist(args.delegate_to.split(","))


def build_client_options(args: ConnectionArgs) -> ClientOptions:
    try:
        method = AuthMethod(args.auth)
    except ValueError:
        raise UsageError(f"--auth must be one of {AUTH_CHOICES}") from None
    return client_options(
        auth=method,
        credential=credential(args),
        delegate=args.delegate,
        delegate_to=delegate_allowlist(args),
        allow_basic_over_http=args.allow_basic_over_http,
        ca_file=args.ca_file,
        client_cert=args.client_cert,
        client_key=args.client_key,
        insecure_skip_tls_verify=args.insecure_skip_tls_verify,
        configuration=args.configuration_name,
        max_auth_failures=args.max_auth_failures,
        timeouts=Timeouts(connect=args.connect_timeout, operation=args.operation_timeout),
    )

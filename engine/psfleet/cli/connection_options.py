"""How every command connects: the connection options, declared once, and what they build.

A command that talks to hosts takes them all with `with_option_groups` (see
`option_groups`) and turns them into the engine's options in one call:

    @with_option_groups(connection=ConnectionArgs)
    def fetch(targets: Targets = None, *, connection: ConnectionArgs, ...) -> None:
        options = connection.run_options()  # RunOptions: ClientOptions, port, TLS

The defaults are the engine's own (a bare `RunOptions()`), so the CLI and the Python
API cannot drift apart.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from psfleet.client import ClientOptions
from psfleet.errors import UsageError
from psfleet.fanout.options import RunOptions
from psfleet.transport.delegation import DelegationAllowlist
from psfleet.transport.options import (
    ENV_PASSWORD,
    ENV_USER,
    AuthMethod,
    AuthOptions,
    Credential,
    Timeouts,
    TLSOptions,
)

AUTH_CHOICES = ", ".join(m.value for m in AuthMethod)
_AUTH_HELP = f"{AUTH_CHOICES}. negotiate uses Kerberos when a ticket and SPN exist, else NTLM."
_USER_HELP = f"DOMAIN\\user (default: ${ENV_USER} or the Kerberos cache)."
# Shared by run, shell, doctor and bench: --executor's help says what it means with Dask.
_PASSWORD_FILE_HELP = f"Read the password from this file (else ${ENV_PASSWORD}, else a prompt)."
_DELEGATE_TO_HELP = (
    "CredSSP only: comma-separated hosts (wildcards allowed, e.g. *.lab.local) trusted "
    "to receive your credentials."
)
_MAX_AUTH_FAILURES_HELP = (
    "Lockout guard: after this many hosts reject a password never accepted (or the "
    "KDC rejects it once), the other hosts are not tried with it (auth_failed)."
)

_ENGINE = RunOptions()
_CLIENT = _ENGINE.client


@dataclass(frozen=True, slots=True)
class ConnectionArgs:
    """The connection options as given on the command line (the password is read later)."""

    auth: Annotated[str, typer.Option("--auth", help=_AUTH_HELP)] = _CLIENT.auth.method.value
    user: Annotated[str | None, typer.Option("-u", "--user", help=_USER_HELP)] = None
    password_file: Annotated[Path | None, typer.Option(help=_PASSWORD_FILE_HELP)] = None
    ssl: Annotated[bool, typer.Option("--ssl", help="HTTPS (port 5986) instead of HTTP.")] = (
        _ENGINE.tls
    )
    port: Annotated[
        int | None, typer.Option(help="WinRM port (default 5985, 5986 with --ssl).")
    ] = _ENGINE.port
    ca_file: Annotated[
        Path | None, typer.Option(help="CA bundle to verify HTTPS hosts against.")
    ] = None
    insecure_skip_tls_verify: Annotated[
        bool,
        typer.Option(
            "--insecure-skip-tls-verify",
            help="Do NOT verify TLS certificates (anyone on the path can read your credentials).",
        ),
    ] = _CLIENT.tls.insecure_skip_tls_verify
    client_cert: Annotated[
        Path | None, typer.Option(help="Client certificate for --auth certificate.")
    ] = None
    client_key: Annotated[Path | None, typer.Option(help="Its private key.")] = None
    configuration_name: Annotated[
        str, typer.Option(help="Session configuration (endpoint), e.g. a JEA configuration name.")
    ] = _CLIENT.configuration
    delegate_to: Annotated[str | None, typer.Option(help=_DELEGATE_TO_HELP)] = None
    delegate: Annotated[
        bool,
        typer.Option("--delegate", help="Kerberos: forward the ticket so a second hop works."),
    ] = _CLIENT.auth.delegate
    allow_basic_over_http: Annotated[
        bool, typer.Option(help="Allow Basic over plain HTTP (sends the password in clear text).")
    ] = _CLIENT.auth.allow_basic_over_http
    max_auth_failures: Annotated[int, typer.Option(min=1, help=_MAX_AUTH_FAILURES_HELP)] = (
        _CLIENT.auth.max_auth_failures
    )
    connect_timeout: Annotated[float, typer.Option(help="Seconds to connect and authenticate.")] = (
        _CLIENT.timeouts.connect
    )
    operation_timeout: Annotated[
        float, typer.Option(help="Seconds the host holds a Receive poll.")
    ] = _CLIENT.timeouts.operation

    def run_options(
        self, *, password_on_workers: bool = False, no_prompt: str | None = None
    ) -> RunOptions:
        """The engine's options for these values; may prompt for the password, so call it once.

        password_on_workers: the user's password is read by the Dask workers, not here.
        no_prompt: a password needed here comes from a file or the environment; else this
        usage error, before any prompt.
        """
        client = self.client_options(password_on_workers=password_on_workers, no_prompt=no_prompt)
        return RunOptions(client=client, port=self.port, tls=self.ssl)

    def client_options(
        self, *, password_on_workers: bool = False, no_prompt: str | None = None
    ) -> ClientOptions:
        try:
            method = AuthMethod(self.auth)
        except ValueError:
            raise UsageError(f"--auth must be one of {AUTH_CHOICES}") from None
        return ClientOptions(
            auth=AuthOptions(
                method=method,
                credential=self.credential(method, password_on_workers, no_prompt),
                delegate=self.delegate,
                allow_basic_over_http=self.allow_basic_over_http,
                credssp_allowed=self.delegation_allowlist(),
                max_auth_failures=self.max_auth_failures,
            ),
            tls=TLSOptions(
                ca_file=self.ca_file,
                client_cert=self.client_cert,
                client_key=self.client_key,
                insecure_skip_tls_verify=self.insecure_skip_tls_verify,
            ),
            timeouts=Timeouts(connect=self.connect_timeout, operation=self.operation_timeout),
            configuration=self.configuration_name,
        )

    def credential(
        self, method: AuthMethod, password_on_workers: bool = False, no_prompt: str | None = None
    ) -> Credential | None:
        """-u with --password-file, $PSFLEET_PASSWORD or a prompt; $PSFLEET_USER; or Kerberos."""
        user = self.user or os.environ.get(ENV_USER)
        if method is AuthMethod.CERTIFICATE:
            return None
        if user is None:
            if method in (AuthMethod.NEGOTIATE, AuthMethod.KERBEROS):
                return Credential.kerberos_cache()
            raise UsageError(f"--auth {method.value} needs -u/--user (or ${ENV_USER})")
        if password_on_workers:
            return Credential(user, None)  # the workers read it: nothing to read or ask here
        if self.password_file is not None:
            try:
                password = self.password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise UsageError(f"cannot read --password-file: {exc.strerror}") from exc
            return Credential(user, password)
        if ENV_PASSWORD in os.environ:
            return Credential(user, os.environ[ENV_PASSWORD])
        if method is AuthMethod.KERBEROS and self.user is None:
            return Credential.kerberos_cache()
        if no_prompt is not None:
            raise UsageError(no_prompt)
        if not sys.stdin.isatty():
            raise UsageError(
                f"no password: use --password-file or ${ENV_PASSWORD} (stdin is no TTY)"
            )
        return Credential(user, getpass.getpass(f"Password for {user}: "))

    def delegation_allowlist(self) -> DelegationAllowlist | None:
        if self.delegate_to is None:
            return None
        return DelegationAllowlist(self.delegate_to.split(","))

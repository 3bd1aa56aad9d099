"""The connection options as a command parses them, and the engine options they build."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import typer.testing

from psfleet.cli.connection_options import ConnectionArgs
from psfleet.cli.option_groups import with_option_groups
from psfleet.client import ClientOptions
from psfleet.errors import UsageError
from psfleet.fanout.options import RunOptions
from psfleet.transport.delegation import DelegationAllowlist
from psfleet.transport.options import AuthMethod, AuthOptions, Credential, Timeouts, TLSOptions

USER = "LAB\\admin"


def parse(*args: str) -> RunOptions:
    """What a command taking the connection options builds from this command line."""
    built: list[RunOptions] = []
    app = typer.Typer()

    @app.command()
    @with_option_groups(connection=ConnectionArgs)
    def command(*, connection: ConnectionArgs) -> None:
        built.append(connection.run_options())

    result = typer.testing.CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return built[0]


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text("s3cret\r\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_credential_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PSFLEET_USER", raising=False)
    monkeypatch.delenv("PSFLEET_PASSWORD", raising=False)


def test_a_bare_command_line_builds_the_engines_defaults() -> None:
    # Only the credential is the CLI's own: without -u, the Kerberos cache.
    engine = RunOptions(client=ClientOptions(auth=AuthOptions(credential=Credential(None))))
    assert parse() == engine


def test_every_option_reaches_its_engine_field(password_file: Path) -> None:
    options = parse(
        "--auth", "credssp", "-u", USER, "--password-file", str(password_file),
        "--ssl", "--port", "15986", "--ca-file", "ca.pem",
        "--insecure-skip-tls-verify", "--client-cert", "c.pem", "--client-key", "k.pem",
        "--configuration-name", "JEA", "--delegate-to", "*.lab.local,db01", "--delegate",
        "--allow-basic-over-http", "--max-auth-failures", "1",
        "--connect-timeout", "3", "--operation-timeout", "7",
    )  # fmt: skip
    auth = options.client.auth
    assert (options.port, options.tls) == (15986, True)
    assert (auth.method, auth.delegate, auth.allow_basic_over_http, auth.max_auth_failures) == (
        AuthMethod.CREDSSP, True, True, 1,
    )  # fmt: skip
    assert auth.credential is not None
    assert (auth.credential.username, auth.credential.password) == (USER, "s3cret")
    assert isinstance(auth.credssp_allowed, DelegationAllowlist)
    assert auth.credssp_allowed("web01.lab.local")
    assert not auth.credssp_allowed("web01.other")
    assert options.client.tls == TLSOptions(
        ca_file=Path("ca.pem"),
        client_cert=Path("c.pem"),
        client_key=Path("k.pem"),
        insecure_skip_tls_verify=True,
    )
    assert options.client.timeouts == Timeouts(connect=3, operation=7)
    assert options.client.configuration == "JEA"


def test_the_password_comes_from_the_environment_without_a_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PSFLEET_USER", USER)
    monkeypatch.setenv("PSFLEET_PASSWORD", "from-env")
    credential = parse("--auth", "ntlm").client.auth.credential
    assert credential is not None
    assert (credential.username, credential.password) == (USER, "from-env")


def test_ntlm_without_a_user_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="needs -u/--user"):
        ConnectionArgs(auth="ntlm").run_options()


def test_an_unknown_auth_names_the_choices() -> None:
    with pytest.raises(UsageError, match="basic, ntlm, negotiate, kerberos, credssp, certificate"):
        ConnectionArgs(auth="digest").run_options()


def test_certificate_auth_presents_no_password() -> None:
    assert ConnectionArgs(auth="certificate", user=USER).client_options().auth.credential is None


def test_an_unreadable_password_file_is_a_usage_error(tmp_path: Path) -> None:
    args = ConnectionArgs(auth="ntlm", user=USER, password_file=tmp_path / "missing")
    with pytest.raises(UsageError, match="cannot read --password-file"):
        args.run_options()

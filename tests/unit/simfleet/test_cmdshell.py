"""The WinRS cmd.exe shell: output bytes and exit codes shaped like the captures."""

from __future__ import annotations

from psfleet.simfleet.cmdshell import run_cmd


def test_echo_through_cmd_c_matches_test_winrs_standard(ctx) -> None:
    result = run_cmd("cmd.exe", ["/c", "echo", "hi"], ctx)
    assert (result.stdout, result.stderr, result.exit_code) == (b"hi\r\n", b"", 0)


def test_chaining_redirect_and_exit_match_test_winrs_stderr_rc(ctx) -> None:
    result = run_cmd("cmd.exe", ["/c echo out && echo err>&2 && exit 1"], ctx)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out \r\n", b"err \r\n", 1)


def test_unknown_command_is_cmds_not_recognized_with_exit_code_1(ctx) -> None:
    result = run_cmd("frobnicate", ["--now"], ctx)
    assert result.stdout == b""
    assert result.stderr == (
        b"'frobnicate' is not recognized as an internal or external command,\r\n"
        b"operable program or batch file.\r\n"
    )
    assert result.exit_code == 1


def test_and_chain_stops_after_failure_but_ampersand_goes_on(ctx) -> None:
    assert run_cmd("cmd", ["/c nope && echo skipped"], ctx).stdout == b""
    assert run_cmd("cmd", ["/c nope & echo ran"], ctx).stdout == b"ran\r\n"
    assert run_cmd("cmd", ["/c nope || echo fallback"], ctx).stdout == b"fallback\r\n"


def test_exit_b_sets_the_exit_code(ctx) -> None:
    assert run_cmd("cmd.exe", ["/c", "exit", "/b", "7"], ctx).exit_code == 7


def test_hostname_whoami_and_ipconfig_describe_the_host(ctx) -> None:
    assert run_cmd("hostname", [], ctx).stdout == b"NODE01\r\n"
    assert run_cmd("whoami", [], ctx).stdout == b"lab\\admin\r\n"
    text = run_cmd("ipconfig", [], ctx).stdout.decode()
    assert text.startswith("\r\nWindows IP Configuration\r\n")
    assert f"IPv4 Address. . . . . . . . . . . : {ctx.host.address}\r\n" in text
    assert "Physical Address" in run_cmd("ipconfig", ["/all"], ctx).stdout.decode()


def test_dir_lists_the_user_profile(ctx) -> None:
    text = run_cmd("cmd.exe", ["/c", "dir"], ctx).stdout.decode()
    assert " Directory of C:\\Users\\admin\r\n" in text

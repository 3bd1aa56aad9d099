"""The cmd.exe side of a simulated host (WinRS shells): a few commands, cmd's
chaining (&, &&, ||), `>&2` redirection, and cmd's own error text."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from psfleet.simfleet.hostfacts import HostFacts, SessionContext, stable_hash

NOT_RECOGNIZED = (
    "'{0}' is not recognized as an internal or external command,\r\n"
    "operable program or batch file.\r\n"
)
COMMANDS = frozenset(
    {"hostname", "whoami", "ipconfig", "echo", "exit", "dir", "ver", "cmd", "type"}
)
# "&" chains commands except inside a redirection such as ">&2".
_CHAIN = re.compile(r"(&&|\|\||(?<!>)&)")


@dataclass(frozen=True, slots=True)
class CmdResult:
    stdout: bytes
    stderr: bytes
    exit_code: int


def run_cmd(command: str, arguments: Sequence[str], ctx: SessionContext) -> CmdResult:
    """Run what a WinRS Command carries.

    E.g. ("cmd.exe", ["/c", "echo hi"]) or ("ipconfig", ["/all"]).
    """
    name = command.strip().lower().removesuffix(".exe")
    line = " ".join(arguments)
    switch = re.match(r"/[ck](\s+|$)", line, re.IGNORECASE)
    if name != "cmd":
        line = " ".join([command, *arguments])
    elif switch:
        line = line[switch.end() :]
    return _run_line(line, ctx)


def _run_line(line: str, ctx: SessionContext) -> CmdResult:
    out: list[str] = []
    err: list[str] = []
    code = 0
    parts = _CHAIN.split(line)
    op = "&"
    for i in range(0, len(parts), 2):
        if i:
            op = parts[i - 1]
        if (op == "&&" and code != 0) or (op == "||" and code == 0):
            continue
        segment = parts[i]
        exit_match = re.match(r"\s*exit(?:\s+/b)?(?:\s+(-?\d+))?\s*$", segment, re.IGNORECASE)
        if exit_match:
            code = int(exit_match.group(1) or 0)
            break
        to_stderr = False
        if re.search(r"1?>&2", segment):
            segment, to_stderr = re.sub(r"1?>&2", "", segment), True
        text, code, problem = _run_one(segment, ctx)
        (err if to_stderr else out).append(text)
        err.append(problem)
    return CmdResult("".join(out).encode(), "".join(err).encode(), code)


def _run_one(segment: str, ctx: SessionContext) -> tuple[str, int, str]:
    """One simple command: (stdout, exit code, stderr)."""
    stripped = segment.lstrip()
    match = re.match(r"[^\s]+", stripped)
    if not match:
        return "", 0, ""
    word = match.group(0)
    rest = stripped[len(word) :]
    name = word.lower().removesuffix(".exe")
    if name == "echo" or name.startswith("echo."):
        return (rest[1:] if rest.startswith(" ") else rest) + "\r\n", 0, ""
    host = ctx.host
    if name == "hostname":
        return f"{host.name}\r\n", 0, ""
    if name == "whoami":
        return f"{ctx.user.lower()}\r\n", 0, ""
    if name == "ipconfig":
        return ipconfig(host, full="/all" in rest.lower()), 0, ""
    if name == "ver":
        return f"\r\nMicrosoft Windows [Version {host.os_version}.{host.os_revision}]\r\n", 0, ""
    if name == "dir":
        return _dir(ctx), 0, ""
    return "", 1, NOT_RECOGNIZED.format(word)


def _mac(host: HostFacts) -> str:
    raw = stable_hash(host.inventory_name + "/mac").to_bytes(8, "big")[:3]
    return "-".join(f"{b:02X}" for b in (0x00, 0x15, 0x5D, *raw))


def _link_local(host: HostFacts) -> str:
    h = stable_hash(host.inventory_name + "/v6")
    return "fe80::" + ":".join(f"{(h >> s) & 0xFFFF:x}" for s in (48, 32, 16, 0)) + "%4"


def ipconfig(host: HostFacts, full: bool = False) -> str:
    """ipconfig [/all] as Windows prints it, with the host's own address."""
    suffix = host.fqdn.split(".", 1)[1]
    lines = ["", "Windows IP Configuration", ""]
    if full:
        lines += [
            f"   Host Name . . . . . . . . . . . . : {host.inventory_name.upper()}",
            f"   Primary Dns Suffix  . . . . . . . : {suffix}",
            "   Node Type . . . . . . . . . . . . : Hybrid",
            "   IP Routing Enabled. . . . . . . . : No",
            "   WINS Proxy Enabled. . . . . . . . : No",
            f"   DNS Suffix Search List. . . . . . : {suffix}",
            "",
        ]
    lines += ["", "Ethernet adapter Ethernet:", ""]
    lines.append(f"   Connection-specific DNS Suffix  . : {suffix}")
    if full:
        lines += [
            "   Description . . . . . . . . . . . : Microsoft Hyper-V Network Adapter",
            f"   Physical Address. . . . . . . . . : {_mac(host)}",
            "   DHCP Enabled. . . . . . . . . . . : No",
            "   Autoconfiguration Enabled . . . . : Yes",
        ]
    preferred = "(Preferred) " if full else ""
    lines += [
        f"   Link-local IPv6 Address . . . . . : {_link_local(host)}{preferred}",
        f"   IPv4 Address. . . . . . . . . . . : {host.address}{preferred}",
        "   Subnet Mask . . . . . . . . . . . : 255.0.0.0",
        "   Default Gateway . . . . . . . . . : 127.0.0.1",
    ]
    return "\r\n".join(lines) + "\r\n"


def _dir(ctx: SessionContext) -> str:
    host = ctx.host
    user = ctx.user.rpartition("\\")[2]
    stamp = host.boot_time.strftime("%m/%d/%Y  %I:%M %p")
    serial = stable_hash(host.inventory_name + "/vol")
    rows = [
        f"{stamp}    <DIR>          .",
        f"{stamp}    <DIR>          ..",
        f"{stamp}    <DIR>          Desktop",
        f"{stamp}    <DIR>          Documents",
        f"{stamp}    <DIR>          Downloads",
    ]
    return "\r\n".join(
        [
            " Volume in drive C has no label.",
            f" Volume Serial Number is {(serial >> 16) & 0xFFFF:04X}-{serial & 0xFFFF:04X}",
            "",
            f" Directory of C:\\Users\\{user}",
            "",
            *rows,
            "               0 File(s)              0 bytes",
            f"               5 Dir(s)  {(serial % 90 + 10) * 1_000_000_000:,} bytes free",
            "",
        ]
    )

"""The floor under psfleet's client CPU: what its libraries alone cost per host.

    .venv/bin/python -m benchmarks.library_floor --rounds 5

A cold host with NTLM and message encryption is, on the wire, 7 HTTP requests on a
new connection (NTLM negotiate; authenticate + Create; Receive twice until the pool
is Opened, as Windows answers; Command; Receive; Delete), one NTLM handshake, 6
sealed requests, 6 sealed answers, 6 SOAP answers and the pool's and the pipeline's
CLIXML messages to parse. A warm command is 2 requests (Command, Receive), 2 seals,
2 unseals, 2 SOAP answers and 2 CLIXML messages. Each part is timed here with its
library alone, no psfleet code: HTTP against a trivial aiohttp server pinned to
the other CPU (with the request and answer sizes of a real cold host), both through
aiohttp's ClientSession and through psfleet's HTTPConnection (httptools' parser under
an asyncio protocol; the floor counts the latter, the layer psfleet uses), pyspnego's
NTLM client against an in-process pyspnego server (only the client's steps are
timed), ElementTree on Windows Server 2016's own answers (tests/captures). Their sum
is the least client CPU any client built on these libraries can spend; psfleet's own
figures (benchmarks/client_cpu.py) are measured in the same run, against simfleet.
Results go to benchmarks/results/library-floor-*.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import spnego

from benchmarks import client_cpu
from benchmarks.machine import git, load, machine, versions
from benchmarks.placement import Placement, pinned
from benchmarks.supervise import ROOT
from psfleet.transport.connection import HTTPConnection
from psfleet.transport.nt_hash import nt_hash
from psfleet.transport.options import Endpoint
from tests.support.captures import load_capture

# (request body bytes, answer body bytes) of a cold host, as psfleet sent and simfleet
# answered them (NTLM + encryption, Get-Date); the first leg carries no body.
COLD_EXCHANGES = ((0, 0), (3242, 2201), (1695, 2208), (1695, 1240), (4007, 1104), (1744, 1708),
                  (1482, 984))  # fmt: skip
WARM_EXCHANGES = COLD_EXCHANGES[4:6]
GOALS_MS = {"cold": 2.5, "warm": 1.0}
SESSION = "aiohttp ClientSession"
PROTOCOL = "httptools protocol+parser"  # psfleet's HTTPConnection
_CAPTURE = "test_client_execute_ps"  # Create, Receive x2, Command, Receive, Delete
_SERVER = """
import sys
from aiohttp import web
async def answer(request):
    await request.read()
    size = int(request.headers.get("X-Answer-Size", "0"))
    return web.Response(body=b"x" * size, content_type="application/soap+xml")
app = web.Application()
app.router.add_post("/wsman", answer)
ready = lambda *_: print("ready", flush=True)
web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), print=ready)
"""


def _cpu_per(count: int, action: Callable[[], object]) -> float:
    started = time.process_time()
    for _ in range(count):
        action()
    return (time.process_time() - started) / count


# --- aiohttp --------------------------------------------------------------------------


async def _post_all(session: aiohttp.ClientSession, url: str, exchanges: Any) -> None:
    for sent, answered in exchanges:
        headers = {"X-Answer-Size": str(answered), "Content-Type": "application/soap+xml"}
        async with session.post(url, data=b"s" * sent, headers=headers) as response:
            await response.read()


async def _aiohttp_cold(url: str, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            await _post_all(session, url, COLD_EXCHANGES)
    return (time.process_time() - started) / count


async def _aiohttp_warm(url: str, count: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        await _post_all(session, url, WARM_EXCHANGES)
        started = time.process_time()
        for _ in range(count):
            await _post_all(session, url, WARM_EXCHANGES)
        return (time.process_time() - started) / count


async def _protocol_post_all(connection: HTTPConnection, exchanges: Any) -> None:
    for sent, answered in exchanges:
        await connection.post(
            b"s" * sent,
            timeout=10.0,
            content_type="application/soap+xml",
            extra_headers={"X-Answer-Size": str(answered)},
        )


def _connection(endpoint: Endpoint) -> HTTPConnection:
    return HTTPConnection(endpoint, None, connect_timeout=10.0, idle_timeout=60.0)


async def _protocol_cold(endpoint: Endpoint, count: int) -> float:
    """psfleet's HTTP layer: its own asyncio protocol on httptools' llhttp parser."""
    started = time.process_time()
    for _ in range(count):
        connection = _connection(endpoint)
        await _protocol_post_all(connection, COLD_EXCHANGES)
        await connection.aclose()
    return (time.process_time() - started) / count


async def _protocol_warm(endpoint: Endpoint, count: int) -> float:
    connection = _connection(endpoint)
    await _protocol_post_all(connection, WARM_EXCHANGES)
    started = time.process_time()
    for _ in range(count):
        await _protocol_post_all(connection, WARM_EXCHANGES)
    result = (time.process_time() - started) / count
    await connection.aclose()
    return result


def _run_on(loop: str, coroutine: Coroutine[Any, Any, float]) -> float:
    if loop == "uvloop":
        import uvloop  # noqa: PLC0415

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coroutine)
    return asyncio.run(coroutine)


# --- pyspnego NTLM --------------------------------------------------------------------


class _Ntlm:
    """An NTLM client (credentials as psfleet passes them: the NT hash) and a server."""

    def __init__(self, user_file: Path) -> None:
        user_file.write_text("LAB:admin:psfleet-demo\n", encoding="utf-8")
        os.environ["NTLM_USER_FILE"] = str(user_file)
        self.credential = spnego.NTLMHash("LAB\\admin", nt_hash=nt_hash("psfleet-demo").hex())

    def _client(self) -> Any:
        return spnego.client(
            self.credential,
            hostname="node01",
            service="HTTP",
            protocol="ntlm",
            options=spnego.NegotiateOptions.wrapping_winrm,
        )

    def handshake_cpu(self, count: int) -> float:
        """The client's side of a handshake: new context, negotiate, authenticate."""
        spent = 0.0
        for _ in range(count):
            server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm)
            started = time.process_time()
            client = self._client()
            negotiate = client.step(None)
            spent += time.process_time() - started
            challenge = server.step(negotiate)
            started = time.process_time()
            client.step(challenge)
            spent += time.process_time() - started
        return spent / count

    def seal_cpu(self, sizes: list[int], count: int) -> tuple[float, float]:
        """(seal every request, unseal every answer) on one established context."""
        client = self._client()
        server = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.wrapping_winrm)
        server.step(client.step(server.step(client.step(None))))
        requests = [b"r" * size for size in sizes]
        started = time.process_time()
        for _ in range(count):
            for request in requests:
                client.wrap_winrm(request)
        sealing = (time.process_time() - started) / count
        answers = [server.wrap_winrm(b"a" * size) for _ in range(count) for size in sizes]
        started = time.process_time()
        for header, data, _ in answers:
            client.unwrap_winrm(header, data)
        return sealing, (time.process_time() - started) / count


# --- ElementTree ----------------------------------------------------------------------


_SESSION_CAPABILITY, _POOL_STATE, _OUTPUT, _PIPELINE_STATE = 0x10002, 0x21005, 0x41004, 0x41006
# The CLIXML psfleet decodes: the pool's capability and state, then one output object
# and the pipeline's state per command (a warm command is Get-Date: one object).
_COLD_CLIXML = (_SESSION_CAPABILITY, _POOL_STATE, _OUTPUT, _PIPELINE_STATE)
_WARM_CLIXML = (_OUTPUT, _PIPELINE_STATE)


def _windows_answers() -> tuple[list[bytes], dict[int, bytes]]:
    """Windows' SOAP answers to a cold host, and the first CLIXML message of each type."""
    soap = [e.response.encode() for e in load_capture(_CAPTURE) if e.response]
    clixml: dict[int, bytes] = {}
    for answer in soap:
        for stream in re.findall(rb"<rsp:Stream[^>]*>([^<]+)</rsp:Stream>", answer):
            fragment = base64.b64decode(stream)
            # One whole message per fragment in these answers: a 21-byte fragment header,
            # then the message: destination, type, two GUIDs (40 bytes), CLIXML.
            (length,) = struct.unpack(">I", fragment[17:21])
            (message_type,) = struct.unpack("<I", fragment[25:29])
            xml = fragment[21 + 40 : 21 + length].removeprefix(b"\xef\xbb\xbf")
            clixml.setdefault(message_type, xml)
    return soap, clixml


def _parse_cpu(documents: list[bytes], count: int) -> float:
    return _cpu_per(count, lambda: [ET.fromstring(document) for document in documents])


# --- the run --------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    placement = Placement.choose(pin=True)
    server = subprocess.Popen(
        pinned([sys.executable, "-c", _SERVER, args.address, str(args.port)], placement.server),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        if placement.client is not None:
            os.sched_setaffinity(0, placement.client)
        url = f"http://{args.address}:{args.port}/wsman"
        endpoint = Endpoint("floor", address=args.address, port=args.port)
        parts: dict[str, dict[str, list[float]]] = {"cold": {}, "warm": {}}

        def note(kind: str, part: str, seconds: float) -> None:
            parts[kind].setdefault(part, []).append(seconds * 1000)

        with tempfile.TemporaryDirectory() as scratch:
            ntlm = _Ntlm(Path(scratch) / "ntlm_users")
            soap, clixml = _windows_answers()
            sealed_cold = [sent for sent, _ in COLD_EXCHANGES[1:]]
            for _ in range(args.rounds):
                for loop in ("asyncio", "uvloop"):
                    note("cold", f"{SESSION} ({loop})", _run_on(loop, _aiohttp_cold(url, 200)))
                    note("warm", f"{SESSION} ({loop})", _run_on(loop, _aiohttp_warm(url, 1000)))
                    cold = _run_on(loop, _protocol_cold(endpoint, 200))
                    warm = _run_on(loop, _protocol_warm(endpoint, 1000))
                    note("cold", f"{PROTOCOL} ({loop})", cold)
                    note("warm", f"{PROTOCOL} ({loop})", warm)
                note("cold", "NTLM handshake", ntlm.handshake_cpu(200))
                seal, unseal = ntlm.seal_cpu(sealed_cold, 200)
                note("cold", "NTLM seal + unseal", seal + unseal)
                seal, unseal = ntlm.seal_cpu([sent for sent, _ in WARM_EXCHANGES], 1000)
                note("warm", "NTLM seal + unseal", seal + unseal)
                cold_xml = soap + [clixml[kind] for kind in _COLD_CLIXML]
                note("cold", "XML parse", _parse_cpu(cold_xml, 500))
                warm_xml = [soap[3], soap[4]] + [clixml[kind] for kind in _WARM_CLIXML]
                note("warm", "XML parse", _parse_cpu(warm_xml, 1000))  # Command, Receive
    finally:
        server.terminate()
        server.wait(30)
    psfleet = {loop: client_cpu.measure(args.rounds, loop=loop) for loop in ("asyncio", "uvloop")}
    return {"parts_ms": parts, "psfleet_ms": psfleet}


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for kind, parts in figures["parts_ms"].items():
        medians = {part: statistics.median(values) for part, values in parts.items()}
        shared = sum(v for part, v in medians.items() if not part.startswith("aiohttp"))
        # The floor is with the HTTP layer psfleet uses; the ClientSession figure is beside it.
        floors = {loop: medians[f"{PROTOCOL} ({loop})"] + shared for loop in ("asyncio", "uvloop")}
        measured = {
            loop: statistics.median(figures["psfleet_ms"][loop][kind])
            for loop in ("asyncio", "uvloop")
        }
        summary[kind] = {
            "parts_ms": medians,
            "floor_ms": floors,
            "psfleet_ms": measured,
            "psfleet_above_floor_ms": {loop: measured[loop] - floors[loop] for loop in floors},
            "goal_ms": GOALS_MS[kind],
        }
    return summary


def print_summary(summary: dict[str, Any]) -> None:
    for kind, figures in summary.items():
        unit = "cold host" if kind == "cold" else "warm command"
        print(f"{unit} (goal {figures['goal_ms']} ms client CPU)")
        for part, value in figures["parts_ms"].items():
            print(f"  {part:34} {value:6.2f} ms")
        for loop in ("asyncio", "uvloop"):
            floor, measured = figures["floor_ms"][loop], figures["psfleet_ms"][loop]
            label = f"floor on {loop}"
            print(f"  {label:34} {floor:6.2f} ms; psfleet {measured:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--address", default="127.1.251.1")
    parser.add_argument("--port", type=int, default=25990)
    parser.add_argument("--output", type=Path, default=None, help="results JSON path")
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    load_before = load()
    figures = measure(args)
    summary = summarize(figures)
    print_summary(summary)
    output = args.output or ROOT / "benchmarks" / "results" / (
        f"library-floor-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}.json"
    )
    output.write_text(
        json.dumps(
            {
                "command": ["python", "-m", "benchmarks.library_floor", *sys.argv[1:]],
                "started": started,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": machine(),
                "versions": versions(),
                "git": git(),
                "load_before": load_before,
                "load_after": load(),
                "rounds_ms": figures,
                "summary": summary,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"results: {output}")


if __name__ == "__main__":
    main()

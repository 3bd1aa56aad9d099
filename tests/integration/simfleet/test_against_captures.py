"""simfleet answers the requests of real Windows Server 2016 exchanges as Windows did.

Each capture's requests are replayed, byte for byte apart from ids simfleet chose itself
(WinRS ShellId and CommandId) and shortened sleeps, to a simulated host; its answers are
compared with Windows': the response action, the header elements, the elements of the
body (the fault's Code/Subcode/Reason/Detail/WSManFault among them), the fault codes, the
sequence of PSRP message types, and the WinRS streams and command states.
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from xml.etree import ElementTree as ET

import pytest
from psrpcore.types import PSRPMessageType
from raw_wsman import Answer, RawPeer, psrp_message_types

from psfleet.simfleet.config import SimConfig
from psfleet.testing.fleet_thread import ThreadedFleet, fleet_in_thread
from psfleet.wsman import Envelope, names, parse_envelope, parse_fault, shell
from tests.support.captures import Exchange, capture_names, load_capture

_W = f"{{{names.NS_WSMAN}}}"
_P = f"{{{names.NS_WSMAN_MS}}}"
_S = f"{{{names.NS_SHELL}}}"
# Windows adds a p:ActivityId header (an ETW correlation id) and an rsp:ProcessId to a
# CreateResponse; nothing a client reads. Known gaps, reported to the wsman owner.
_WINDOWS_ONLY = frozenset({f"{_P}ActivityId", f"{_S}ProcessId"})
# Windows reports module auto-loading ("Preparing modules for first use.") as progress
# when a runspace first loads a module, depending on timing; simfleet loads nothing.
_NOISE = frozenset({PSRPMessageType.ProgressRecord.name})
_FRAGMENT = struct.Struct(">QQBI")
_STREAM_DATA = re.compile(r"(<rsp:(?:Arguments|Stream)\b[^>]*>)([A-Za-z0-9+/=]+)(<)")
# Rewrites that shorten the captures' sleeps (10 s, 30 s) and long polls (5 s, 10 s):
# text of the requests, and bytes inside their PSRP messages.
_QUICK_TEXT: dict[str, list[tuple[str, str]]] = {
    "test_psrp_long_running_cmdlet": [
        ("<wsman:OperationTimeout>PT5S<", "<wsman:OperationTimeout>PT0.3S<")
    ],
    "test_winrs_operation_timeout": [
        ("Start-Sleep 30", "Start-Sleep 1"),
        ("<wsman:OperationTimeout>PT10S<", "<wsman:OperationTimeout>PT0.3S<"),
    ],
}
_QUICK_PSRP: dict[str, list[tuple[bytes, bytes]]] = {
    "test_psrp_long_running_cmdlet": [(b'<I32 N="V">10</I32>', b'<I32 N="V">1</I32>')],
}
# Exchanges a replay cannot reproduce: the pipeline of test_psrp_multiple_commands gets
# a SecureString encrypted under the session key Windows chose, and simfleet, answering
# the same PublicKey, chose its own (the key exchange itself is compared).
_NOT_COMPARABLE = {"test_psrp_multiple_commands": {6}}
CAPTURES = capture_names()


@pytest.fixture(scope="module")
def fleet() -> Iterator[ThreadedFleet]:
    config = SimConfig(
        hosts=len(CAPTURES), base_address="127.1.20.1", port=0, allow_unencrypted=True
    )
    with fleet_in_thread(config) as running:
        yield running


# --- what is compared ------------------------------------------------------------------


def psrp_types(envelope: Envelope) -> list[str]:
    return [t for t in psrp_message_types(envelope) if t not in _NOISE]


def winrs_streams(envelope: Envelope) -> list[tuple[str, bool]]:
    """(stream name, End) of a WinRS response's streams, runs of data on one stream merged."""
    seen: list[tuple[str, bool]] = []
    if envelope.body is None:
        return seen
    for stream in envelope.body.iter(f"{_S}Stream"):
        item = (stream.get("Name", ""), stream.get("End") == "true")
        if not seen or seen[-1] != item or item[1]:
            seen.append(item)
    return seen


def command_state(envelope: Envelope) -> tuple[str, str | None] | None:
    state = envelope.body.find(f"{_S}CommandState") if envelope.body is not None else None
    if state is None:
        return None
    return state.get("State", "").rsplit("/", 1)[-1], state.findtext(f"{_S}ExitCode")


def element_paths(element: ET.Element | None, prefix: str = "") -> set[str]:
    """Every element under `element` as a path of Clark names, attributes of faults too."""
    if element is None:
        return set()
    paths = set()
    for child in element:
        if child.tag in _WINDOWS_ONLY:
            continue
        path = f"{prefix}/{child.tag}"
        paths.add(path)
        if child.tag.endswith("WSManFault"):
            paths.update(f"{path}@{name}" for name in child.attrib)
        paths |= element_paths(child, path)
    return paths


def header_tags(text: str) -> set[str]:
    root = ET.fromstring(text)
    header = root.find(f"{{{names.NS_SOAP}}}Header")
    assert header is not None
    return {child.tag for child in header} - _WINDOWS_ONLY


# --- replay ----------------------------------------------------------------------------


@dataclass
class Replayed:
    windows: Exchange
    answers: list[Answer]  # simfleet's, more than one when a long poll had to be repeated

    @property
    def last(self) -> Envelope:
        return self.answers[-1].envelope


def _rewrite_psrp(text: str, old: bytes, new: bytes) -> str:
    """Replace bytes inside single-fragment PSRP messages, fixing the fragment length."""

    def one(match: re.Match[str]) -> str:
        data = base64.b64decode(match.group(2))
        if old not in data:
            return match.group(0)
        object_id, fragment_id, flags, length = _FRAGMENT.unpack_from(data)
        assert flags == 3 and len(data) == _FRAGMENT.size + length, "one whole fragment"
        body = data[_FRAGMENT.size :].replace(old, new)
        data = _FRAGMENT.pack(object_id, fragment_id, flags, len(body)) + body
        return match.group(1) + base64.b64encode(data).decode() + match.group(3)

    return _STREAM_DATA.sub(one, text)


def _quick(name: str) -> Callable[[str], str]:
    def rewrite(text: str) -> str:
        for old, new in _QUICK_TEXT.get(name, []):
            text = text.replace(old, new)
        for old_bytes, new_bytes in _QUICK_PSRP.get(name, []):
            text = _rewrite_psrp(text, old_bytes, new_bytes)
        return text

    return rewrite


def _should_poll_again(windows: Envelope, answer: Answer) -> bool:
    """A long poll simfleet answered before Windows' answer was complete: poll again."""
    if answer.fault is not None:
        return answer.fault.is_receive_timeout and not windows.is_fault
    windows_state, ours = command_state(windows), command_state(answer.envelope)
    return windows_state is not None and (ours is None or ours[0] != windows_state[0])


def replay(peer: RawPeer, name: str) -> list[Replayed]:
    ids: dict[str, str] = {}  # Windows' ShellId/CommandId -> simfleet's
    rewrite = _quick(name)
    replayed = []
    for exchange in load_capture(name):
        request = rewrite(exchange.request)
        for recorded, ours in ids.items():
            request = request.replace(recorded, ours)
        windows = parse_envelope(exchange.response)
        answers = [peer.post(request.encode())]
        while parse_envelope(request).action == names.ACTION_RECEIVE and _should_poll_again(
            windows, answers[-1]
        ):
            assert len(answers) < 20, "simfleet never answered like Windows"
            answers.append(peer.post(request.encode()))
        replayed.append(Replayed(exchange, answers))
        ours_envelope = answers[-1].envelope
        if windows.action.endswith("CreateResponse"):
            ids[shell.parse_create_response(windows.body)] = shell.parse_create_response(
                ours_envelope.body
            )
        elif windows.action.endswith("CommandResponse"):
            ids[shell.parse_command_response(windows.body)] = shell.parse_command_response(
                ours_envelope.body
            )
    return replayed


# --- the tests -------------------------------------------------------------------------


@pytest.mark.parametrize("name", CAPTURES)
def test_simfleet_answers_each_capture_like_windows(fleet: ThreadedFleet, name: str) -> None:
    host = fleet.hosts[CAPTURES.index(name)]
    peer = RawPeer(host)
    for index, step in enumerate(replay(peer, name)):
        if index in _NOT_COMPARABLE.get(name, ()):
            continue
        windows = parse_envelope(step.windows.response)
        ours = step.last
        what = f"{name}: {windows.action.rsplit('/', 1)[-1]} to {ours.relates_to}"
        assert ours.action == windows.action, what
        assert header_tags(step.answers[-1].body.decode()) == header_tags(step.windows.response), (
            what
        )
        assert element_paths(ours.body) == element_paths(windows.body), what
        if windows.is_fault:
            assert parse_fault(ours).code == parse_fault(windows).code, what
        assert (
            step.answers[-1].envelope.relates_to == parse_envelope(step.windows.request).message_id
        )
        ok = [a.envelope for a in step.answers if a.fault is None]
        assert [t for e in ok for t in psrp_types(e)] == psrp_types(windows), what
        if name.startswith("test_winrs") and not windows.is_fault:
            assert [winrs_streams(e) for e in ok] == [winrs_streams(windows)], what
        assert command_state(ours) == command_state(windows), what
    assert fleet.stats(host.name)["shells_open"] == 0


def test_operation_timeout_fault_has_windows_shape(fleet: ThreadedFleet) -> None:
    name = "test_psrp_long_running_cmdlet"
    host = fleet.hosts[CAPTURES.index(name)]
    replayed = replay(RawPeer(host), name)
    timeouts = [r for r in replayed if parse_envelope(r.windows.response).is_fault]
    assert len(timeouts) == 2
    for step in timeouts:
        ours, windows = step.answers[-1], parse_envelope(step.windows.response)
        assert ours.status == 500
        assert ours.envelope.action == names.ACTION_FAULT
        fault, expected = parse_fault(ours.envelope), parse_fault(windows)
        assert (fault.code, fault.subcode) == (expected.code, expected.subcode)
        assert fault.code == 2150858793 and fault.subcode == "w:TimedOut"
        assert fault.reason == expected.reason and fault.message == expected.message
        assert fault.machine == host.address
        code_path = f"{{{names.NS_SOAP}}}Code/{{{names.NS_SOAP}}}Value"
        assert ours.envelope.body is not None and windows.body is not None
        assert ours.envelope.body.findtext(code_path) == windows.body.findtext(code_path)
        assert windows.body.findtext(code_path) == "s:Receiver"

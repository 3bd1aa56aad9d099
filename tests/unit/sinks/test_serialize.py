"""to_jsonable and event_to_json: the JSON forms every sink writes."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from typing import Any

from psrpcore import types as ps

from psfleet.events import (
    Event,
    HostDone,
    HostRetry,
    HostStarted,
    HostStatus,
    RecordEvent,
    RunSummary,
    Stream,
)
from psfleet.serialize import CYCLE, MAX_DEPTH, dumps, event_to_json, to_jsonable
from psfleet.session import (
    ErrorRecord,
    InformationalRecord,
    InformationRecord,
    ProgressRecord,
    PSObjectView,
    SecureString,
)
from psfleet.transport import Credential


def service_view() -> PSObjectView:
    status = PSObjectView(
        ("System.ServiceProcess.ServiceControllerStatus", "System.Enum", "System.Object"),
        {},
        {},
        "Running",
        value=4,
    )
    return PSObjectView(
        ("Deserialized.System.ServiceProcess.ServiceController", "Deserialized.System.Object"),
        {"Name": "WinRM", "Status": status, "CanStop": True},
        {"PSComputerName": "node01", "Name": "WinRM-extended"},
        "WinRM",
    )


def error_record() -> ErrorRecord:
    return ErrorRecord(
        host="node01",
        message="Cannot find path 'C:\\nope' because it does not exist.",
        category="ObjectNotFound",
        category_info="ObjectNotFound: (C:\\nope:String) [Get-Item], ItemNotFoundException",
        fully_qualified_error_id="PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand",
        target_name="C:\\nope",
        target_object="C:\\nope",
        exception_type="System.Management.Automation.ItemNotFoundException",
        script_stack_trace="at <ScriptBlock>, <No file>: line 1",
        position_message="At line:1 char:1\r\n+ Get-Item C:\\nope",
        line_number=1,
        offset_in_line=1,
    )


def test_primitives_keep_their_json_types() -> None:
    values = ["text", 42, 2**70, 1.5, True, None]
    assert to_jsonable(values) == values


def test_conventions_for_values_json_has_no_type_for() -> None:
    class Color(enum.Enum):
        RED = "red"

    class Level(enum.IntEnum):
        HIGH = 3

    moment = datetime.datetime(2024, 5, 1, 6, 0, 0, 123456, tzinfo=datetime.UTC)
    assert to_jsonable(moment) == "2024-05-01T06:00:00.123456+00:00"
    assert to_jsonable(datetime.timedelta(days=1, seconds=1.5)) == 86401.5  # seconds
    assert to_jsonable(b"\x00\xffPS") == "AP9QUw=="
    assert to_jsonable(decimal.Decimal("12.25")) == 12.25
    assert to_jsonable(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert to_jsonable([Color.RED, Level.HIGH]) == ["red", 3]
    assert to_jsonable([float("nan"), float("inf"), float("-inf")]) == [
        "NaN",
        "Infinity",
        "-Infinity",
    ]


def test_an_object_keeps_type_names_to_string_and_adapted_and_extended_properties() -> None:
    encoded = to_jsonable(service_view())
    assert encoded == {
        "type_names": [
            "Deserialized.System.ServiceProcess.ServiceController",
            "Deserialized.System.Object",
        ],
        "to_string": "WinRM",
        "properties": {
            "Name": "WinRM-extended",  # an extended property wins, as in PowerShell
            "Status": {
                "type_names": [
                    "System.ServiceProcess.ServiceControllerStatus",
                    "System.Enum",
                    "System.Object",
                ],
                "to_string": "Running",
                "properties": {},
                "value": 4,
            },
            "CanStop": True,
            "PSComputerName": "node01",
        },
    }


def test_error_record_has_every_field_invoke_command_shows() -> None:
    encoded = to_jsonable(error_record())
    assert isinstance(encoded, dict)
    assert set(encoded) == {
        "message",
        "category",
        "category_info",
        "fully_qualified_error_id",
        "exception_type",
        "target_name",
        "target",
        "script_stack_trace",
        "position",
        "script_name",
        "line_number",
        "offset_in_line",
        "command",
        "recommended_action",
    }
    assert str(encoded["category_info"]).startswith("ObjectNotFound: (C:\\nope:String)")
    assert encoded["target"] == "C:\\nope"


def test_stream_records_keep_their_fields() -> None:
    generated = datetime.datetime(2024, 5, 1, 6, 0)
    assert to_jsonable(InformationalRecord("n", "careful", "Get-Item")) == {
        "message": "careful",
        "command": "Get-Item",
    }
    assert to_jsonable(InformationRecord("n", "hi", "Write-Host", ("PSHOST",), generated)) == {
        "message_data": "hi",
        "source": "Write-Host",
        "tags": ["PSHOST"],
        "time_generated": "2024-05-01T06:00:00",
        "user": None,
        "computer": None,
    }
    progress = to_jsonable(ProgressRecord("n", "scan", "half", percent_complete=50))
    assert isinstance(progress, dict)
    assert progress["percent_complete"] == 50
    assert "host" not in progress  # the event carries the host


def test_secrets_never_serialize() -> None:
    secure = SecureString(ps.PSSecureString("hunter2-secret"))
    credential_object = PSObjectView(
        ("Deserialized.System.Management.Automation.PSCredential",),
        {"UserName": "LAB\\admin", "Password": secure},
        {},
        "System.Management.Automation.PSCredential",
    )
    psfleet_credential = Credential("LAB\\admin", "hunter2-secret")
    text = dumps(to_jsonable([secure, credential_object, psfleet_credential]))
    assert "hunter2" not in text
    assert json.loads(text)[0] == "<SecureString>"


def test_cycles_and_deep_nesting_are_cut_not_fatal() -> None:
    loop: list[Any] = [1]
    loop.append(loop)
    assert to_jsonable(loop) == [1, CYCLE]

    deep: list[Any] = []
    cursor = deep
    for _ in range(MAX_DEPTH * 3):
        cursor.append([])
        cursor = cursor[0]
    text = dumps(to_jsonable(deep))
    assert text.count("[") == MAX_DEPTH
    assert "deeper than the depth limit" in text

    view = service_view()
    view.extended["Self"] = view  # an object whose property points back at it
    assert to_jsonable(view)["properties"]["Self"] == CYCLE  # type: ignore[call-overload,index]


def test_hostile_values_become_text_and_stay_valid_json() -> None:
    class Exploding:
        def __str__(self) -> str:
            raise RuntimeError("no")

    values = [Exploding(), "lone \ud800 surrogate", {(1, 2): "tuple key", 3: "int key"}, {1, 2}]
    encoded = to_jsonable(values)
    assert encoded[0] == "<unserializable Exploding: RuntimeError>"  # type: ignore[index]
    parsed = json.loads(dumps(encoded))
    assert parsed[1] == "lone \ud800 surrogate"
    assert parsed[2] == {"[1, 2]": "tuple key", "3": "int key"}


def _types(obj: dict[str, Any]) -> dict[str, type | tuple[type, ...]]:
    return {key: type(value) for key, value in obj.items()}


def test_every_event_kind_has_its_schema() -> None:
    events: list[Event] = [
        HostStarted("node01", 1),
        RecordEvent("node01", Stream.OUTPUT, service_view(), 1),
        HostRetry("node01", 2, "ConnectError", "refused", 0.5),
        HostDone("node01", HostStatus.OK, 1.25, 1),
        HostDone(
            "node02", HostStatus.DOUBLE_HOP_DENIED, 2.0, 1, "DoubleHopDenied", "denied", "fix"
        ),
        RunSummary(
            {s: 0 for s in HostStatus} | {HostStatus.OK: 1},
            3.5,
            (("node02", 2.0),),
            shells_possibly_open=("node07",),
        ),
    ]
    encoded = [json.loads(dumps(event_to_json(event))) for event in events]
    assert [e["event"] for e in encoded] == [
        "host_started",
        "record",
        "host_retry",
        "host_done",
        "host_done",
        "summary",
    ]
    started, record, retry, done, failed, summary = encoded
    assert _types(started) == {"event": str, "host": str, "attempt": int}
    assert _types(record) == {
        "event": str,
        "host": str,
        "stream": str,
        "command": int,
        "data": dict,
    }
    assert record["stream"] == "output" and record["command"] == 1
    assert _types(retry) == {
        "event": str,
        "host": str,
        "attempt": int,
        "error_type": str,
        "message": str,
        "delay_s": float,
    }
    done_keys = {"event", "host", "status", "duration_s", "attempts"}
    done_keys |= {"error_type", "error_message", "remedy"}
    assert set(done) == set(failed) == done_keys
    assert (done["status"], done["error_type"], done["remedy"]) == ("ok", None, None)
    assert (failed["status"], failed["error_type"], failed["remedy"]) == (
        "double_hop_denied",
        "DoubleHopDenied",
        "fix",
    )
    assert _types(summary) == {
        "event": str,
        "counts": dict,
        "wall_s": float,
        "interrupted": bool,
        "slowest": list,
        "shells_possibly_open": list,
        "spared_by_lockout_guard": int,
    }
    assert set(summary["counts"]) == {s.value for s in HostStatus}
    assert "protocol_error" in summary["counts"]
    assert summary["slowest"] == [{"host": "node02", "duration_s": 2.0}]
    assert summary["shells_possibly_open"] == ["node07"]

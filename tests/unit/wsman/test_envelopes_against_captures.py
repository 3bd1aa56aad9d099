"""The sans-IO WSMan layer reads every envelope of the Windows captures and builds their shapes."""

import pytest

from psfleet import errors
from psfleet.wsman import names, parse_envelope, parse_fault, shell
from psfleet.wsman.faults import FaultCode, build_fault, fault_to_error
from tests.support.captures import capture_names, load_capture

CAPTURES = capture_names()


def test_all_captures_are_present() -> None:
    assert len(CAPTURES) == 12


@pytest.mark.parametrize("name", CAPTURES)
def test_every_response_relates_to_its_request(name: str) -> None:
    for exchange in load_capture(name):
        request = parse_envelope(exchange.request)
        response = parse_envelope(exchange.response)
        assert request.message_id.startswith("uuid:")
        assert response.relates_to == request.message_id
        if response.is_fault:
            assert response.action == names.ACTION_FAULT
        else:
            assert response.action == names.response_action(request.action)


@pytest.mark.parametrize("name", CAPTURES)
def test_every_body_parses_with_the_matching_shell_parser(name: str) -> None:
    for exchange in load_capture(name):
        request = parse_envelope(exchange.request)
        response = parse_envelope(exchange.response)
        if request.action == names.ACTION_CREATE:
            created = shell.parse_create(request.body)
            assert shell.parse_create_response(response.body)
            if request.resource_uri == names.RESOURCE_POWERSHELL:
                assert created.creation_xml is not None
                assert created.shell_id == shell.parse_create_response(response.body)
        elif request.action == names.ACTION_COMMAND:
            line = shell.parse_command(request.body)
            assert shell.parse_command_response(response.body)
            assert line.command_id is None or line.command_id == shell.parse_command_response(
                response.body
            )
        elif request.action == names.ACTION_SEND:
            assert all(chunk.data for chunk in shell.parse_send(request.body))
        elif request.action == names.ACTION_RECEIVE and not response.is_fault:
            shell.parse_receive(request.body)
            shell.parse_receive_response(response.body)
        elif request.action == names.ACTION_SIGNAL:
            assert shell.parse_signal(request.body).code


def test_receive_timeout_fault_is_recognised_as_poll_again() -> None:
    faults = [
        parse_fault(parse_envelope(e.response))
        for e in load_capture("test_psrp_long_running_cmdlet")
        if parse_envelope(e.response).is_fault
    ]
    assert faults, "the capture holds an OperationTimeout fault"
    fault = faults[0]
    assert fault.code == FaultCode.OPERATION_TIMEDOUT
    assert fault.subcode == "w:TimedOut"
    assert fault.machine == "127.0.0.1"
    assert fault.is_receive_timeout
    assert "OperationTimeout" in fault.message


def test_winrs_receive_carries_streams_state_and_exit_code() -> None:
    receives = [
        shell.parse_receive_response(parse_envelope(e.response).body)
        for e in load_capture("test_winrs_stderr_rc")
        if parse_envelope(e.request).action == names.ACTION_RECEIVE
    ]
    result = receives[0]
    assert [c.name for c in result.chunks] == ["stdout", "stderr", "stdout", "stderr"]
    assert result.chunks[0].data == b"out \r\n"
    assert result.chunks[1].data == b"err \r\n"
    assert result.chunks[2].end and result.chunks[3].end
    assert result.state is not None and result.state.done and result.state.exit_code == 1


def test_built_fault_has_windows_shape_and_maps_to_a_typed_error() -> None:
    windows = parse_fault(
        parse_envelope(
            next(
                e.response
                for e in load_capture("test_psrp_long_running_cmdlet")
                if parse_envelope(e.response).is_fault
            )
        )
    )
    ours = parse_fault(
        parse_envelope(
            build_fault(
                FaultCode.OPERATION_TIMEDOUT,
                windows.message,
                relates_to="uuid:1",
                machine="127.0.0.1",
            )
        )
    )
    assert ours == windows

    quota = parse_fault(
        parse_envelope(
            build_fault(FaultCode.QUOTA_MAX_SHELLS, "too many", relates_to="uuid:2", machine="m")
        )
    )
    error = fault_to_error(quota, host="node01")
    assert isinstance(error, errors.QuotaExceeded)
    assert error.retryable and error.code == FaultCode.QUOTA_MAX_SHELLS

    gone = fault_to_error(
        parse_fault(
            parse_envelope(
                build_fault(FaultCode.SHELL_NOT_FOUND, "gone", relates_to="uuid:3", machine="m")
            )
        )
    )
    assert isinstance(gone, errors.ShellNotFound) and not gone.retryable

"""Namespace URIs, actions and well-known URIs of WS-Management and WinRS.

XML is matched by namespace URI, never by prefix: Windows and pypsrp use different prefixes.
"""

from typing import Final

NS_SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
NS_ADDRESSING: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_TRANSFER: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_WSMAN: Final = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_WSMAN_MS: Final = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_SHELL: Final = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
NS_WSMAN_FAULT: Final = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_IDENTITY: Final = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
NS_POWERSHELL: Final = "http://schemas.microsoft.com/powershell"

ANONYMOUS: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"

ACTION_CREATE: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND: Final = f"{NS_SHELL}/Command"
ACTION_SEND: Final = f"{NS_SHELL}/Send"
ACTION_RECEIVE: Final = f"{NS_SHELL}/Receive"
ACTION_SIGNAL: Final = f"{NS_SHELL}/Signal"
ACTION_FAULT: Final = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
ACTION_ADDRESSING_FAULT: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault"
SHELL_ACTIONS: Final = frozenset(
    {ACTION_CREATE, ACTION_DELETE, ACTION_COMMAND, ACTION_SEND, ACTION_RECEIVE, ACTION_SIGNAL}
)


def response_action(action: str) -> str:
    """The action a successful response carries: the request's action + 'Response'."""
    return action + "Response"


RESOURCE_POWERSHELL: Final = "http://schemas.microsoft.com/powershell/Microsoft.PowerShell"
RESOURCE_POWERSHELL_PREFIX: Final = "http://schemas.microsoft.com/powershell/"
RESOURCE_CMD: Final = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

SIGNAL_TERMINATE: Final = f"{NS_SHELL}/signal/terminate"
SIGNAL_CTRL_C: Final = f"{NS_SHELL}/signal/ctrl_c"
SIGNAL_PS_CTRL_C: Final = "powershell/signal/crtl_c"

COMMAND_STATE_DONE: Final = f"{NS_SHELL}/CommandState/Done"
COMMAND_STATE_RUNNING: Final = f"{NS_SHELL}/CommandState/Running"
COMMAND_STATE_PENDING: Final = f"{NS_SHELL}/CommandState/Pending"

# Default and newer-Windows WinRM MaxEnvelopeSize (bytes).
DEFAULT_MAX_ENVELOPE_SIZE: Final = 153600
NEW_MAX_ENVELOPE_SIZE: Final = 512000

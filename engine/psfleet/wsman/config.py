"""WSMan Get of winrm/config: the host's MaxEnvelopeSizekb, as pypsrp's
`WSMan.update_max_payload_size()` reads it (resource URI .../wsman/1/config, action
transfer/Get, answer `<cfg:Config><cfg:MaxEnvelopeSizekb>`)."""

from __future__ import annotations

from typing import Final
from xml.etree import ElementTree as ET

from psfleet.errors import ProtocolError

ACTION_GET: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"
RESOURCE_CONFIG: Final = "http://schemas.microsoft.com/wbem/wsman/1/config"
NS_CONFIG: Final = "http://schemas.microsoft.com/wbem/wsman/1/config"
_CFG = f"{{{NS_CONFIG}}}"


def config_body(max_envelope_size: int, max_timeout_ms: int = 60000) -> str:
    """The Body of a GetResponse for winrm/config: its top-level settings, in Windows'
    order (Client, Service and Winrs sections left out: nothing reads them here)."""
    return (
        f'<cfg:Config xmlns:cfg="{NS_CONFIG}">'
        f"<cfg:MaxEnvelopeSizekb>{max_envelope_size // 1024}</cfg:MaxEnvelopeSizekb>"
        f"<cfg:MaxTimeoutms>{max_timeout_ms}</cfg:MaxTimeoutms>"
        "<cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
        "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests>"
        "</cfg:Config>"
    )


def parse_max_envelope_size(body: ET.Element | None) -> int:
    """MaxEnvelopeSizekb of a winrm/config GetResponse, in bytes."""
    if body is None or body.tag != f"{_CFG}Config":
        raise ProtocolError("expected cfg:Config in the answer to a Get of winrm/config")
    text = (body.findtext(f"{_CFG}MaxEnvelopeSizekb") or "").strip()
    if not text.isdigit() or int(text) == 0:
        raise ProtocolError(f"winrm/config has no usable MaxEnvelopeSizekb: {text!r}")
    return int(text) * 1024


def is_config_get(action: str, resource_uri: str | None) -> bool:
    return action == ACTION_GET and (resource_uri or "").rstrip("/") == RESOURCE_CONFIG

"""WSMan Identify: the anonymous probe that tells a listener's product and protocol version."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET

from psfleet.errors import ProtocolError
from psfleet.wsman import names

_ID = f"{{{names.NS_IDENTITY}}}"

IDENTIFY_REQUEST = (
    f'<s:Envelope xmlns:s="{names.NS_SOAP}" xmlns:wsmid="{names.NS_IDENTITY}">'
    "<s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>"
).encode()


@dataclass(frozen=True, slots=True)
class IdentifyResult:
    protocol_version: str
    product_vendor: str
    product_version: str


def is_identify(body: ET.Element | None) -> bool:
    return body is not None and body.tag == f"{_ID}Identify"


def build_identify_response(product_version: str) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{names.NS_SOAP}" xmlns:wsmid="{names.NS_IDENTITY}">'
        "<s:Header/><s:Body><wsmid:IdentifyResponse>"
        f"<wsmid:ProtocolVersion>{names.NS_WSMAN}</wsmid:ProtocolVersion>"
        "<wsmid:ProductVendor>Microsoft Corporation</wsmid:ProductVendor>"
        f"<wsmid:ProductVersion>{product_version}</wsmid:ProductVersion>"
        "<wsmid:SecurityProfiles><wsmid:SecurityProfileName>"
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/http/spnego-kerberos"
        "</wsmid:SecurityProfileName></wsmid:SecurityProfiles>"
        "</wsmid:IdentifyResponse></s:Body></s:Envelope>"
    ).encode()


def parse_identify_response(body: ET.Element | None) -> IdentifyResult:
    if body is None or body.tag != f"{_ID}IdentifyResponse":
        raise ProtocolError("expected wsmid:IdentifyResponse")
    return IdentifyResult(
        protocol_version=(body.findtext(f"{_ID}ProtocolVersion") or "").strip(),
        product_vendor=(body.findtext(f"{_ID}ProductVendor") or "").strip(),
        product_version=(body.findtext(f"{_ID}ProductVersion") or "").strip(),
    )

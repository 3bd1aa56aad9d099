"""The head of psfleet's one kind of HTTP request: a POST with at most six headers.

Every value comes from psfleet itself (endpoint, auth header, content type), so the
head is written directly instead of through a general HTTP library's request model.
"""

from __future__ import annotations

from collections.abc import Mapping

from psfleet.transport.options import Endpoint


def host_header(endpoint: Endpoint, port: int) -> str:
    address = endpoint.address or endpoint.host
    if ":" in address:
        address = f"[{address}]"  # IPv6 literal
    return f"{address}:{port}"


class RequestHead:
    """Writes the head of a POST to one endpoint; the fixed lines are encoded once."""

    def __init__(self, endpoint: Endpoint, port: int) -> None:
        self._fixed = (
            f"POST {endpoint.path} HTTP/1.1\r\n"
            f"Host: {host_header(endpoint, port)}\r\n"
            "User-Agent: psfleet\r\nAccept-Encoding: identity\r\n"
        ).encode("ascii")

    def encode(
        self,
        length: int,
        content_type: str | None = None,
        authorization: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> bytes:
        lines = [self._fixed]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}\r\n".encode("ascii"))
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}\r\n".encode("ascii"))
        for name, value in (extra_headers or {}).items():
            lines.append(f"{name}: {value}\r\n".encode("ascii"))
        lines.append(b"Content-Length: %d\r\n\r\n" % length)
        return b"".join(lines)

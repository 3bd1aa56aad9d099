"""A checked fast path for the one long text of a Send or Receive: its `rsp:Stream`.

A file transfer's envelopes are almost all base64 in one Stream element (up to the
host's MaxEnvelopeSize, 500 KB). expat and the DTD check walk that text at about 1.3 ms
per MB, more than the rest of the message costs. So the text is cut out before
parsing and put back into the parsed tree: the parser sees only the small skeleton.

It is exact, or it is not used. The text is lifted only when it is plain character data
(ASCII, no markup, no reference, no carriage return that XML would normalise) and a
marker takes its place. The element that held it is found by position, not by name:
with no comment, CDATA, DTD or processing instruction before it (`<!`, `<?`; the XML
declaration aside), every `<` before the text opens a start tag or an end tag (`</`), so
the start tags counted there give its index in document order. If that element's text
is not then exactly the marker (a comment or CDATA right after the text joined it), or
the skeleton does not parse, the caller parses the whole message instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

# Shorter texts are not worth the detour (and keep the generic path the common one).
MIN_LIFTED = 16 * 1024
_MARKER = b"psfleet-lifted-stream-text"
_MARKER_TEXT = _MARKER.decode("ascii")
_DECLARATION = b"<?xml"
# A start tag named Stream with any prefix; `[^<>]` stops at a `>` inside an attribute
# value, which the checks on the text below then refuse.
_STREAM_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?Stream(?:\s[^<>]*)?>")


@dataclass(frozen=True, slots=True)
class Lifted:
    skeleton: bytes  # the message with the marker where the text was
    text: bytes
    index: int  # the holder's place in document order (root.iter())

    def restore(self, root: ET.Element) -> bool:
        """Give the text back to its element; False if the marker is not that element's
        whole text (the fast path did not apply: parse the whole message)."""
        for number, element in enumerate(root.iter()):
            if number == self.index:
                if element.text != _MARKER_TEXT:
                    return False
                element.text = self.text.decode("ascii")
                return True
        return False


def lift(message: bytes) -> Lifted | None:
    """The message's first long Stream text cut out, or None where that would not be exact."""
    start = _STREAM_START.search(message)
    if start is None:
        return None
    text_at = start.end()
    text_end = message.find(b"<", text_at)
    if text_end - text_at < MIN_LIFTED:  # also when no `<` follows (-1)
        return None
    head = message[:text_at]
    tags = head
    if head.startswith(_DECLARATION):  # its pseudo-attributes hold no `<`
        declaration_end = head.find(b"?>")
        if declaration_end < 0:
            return None
        tags = head[declaration_end + 2 :]
    if b"<!" in tags or b"<?" in tags:
        return None
    text = message[text_at:text_end]
    if not text.isascii() or any(c in text for c in (b"&", b">", b"\r")):
        return None
    starts = tags.count(b"<") - tags.count(b"</")
    return Lifted(head + _MARKER + message[text_end:], text, starts - 1)

"""A checked fast path for the one long text of a Send or Receive: its `rsp:Stream`.

A file transfer's envelopes are almost all base64 in one Stream element (up to the
host's MaxEnvelopeSize, 500 KB). expat and the DTD check walk that text at about 1.3 ms
per MB, more than the rest of the message costs. So the text is cut out before
parsing and put back into the parsed tree: the parser sees only the small skeleton.

It is exact, or it is not used: the text is lifted only when it is plain character data
(ASCII, no markup, no reference, no carriage return that XML would normalise), and a
marker that appears nowhere in the message takes its place. Whatever element the parser
then gives the marker as its whole text has, in the full document, exactly the lifted
text; if no element does (a comment or CDATA next to it, a tag the pattern misread),
the caller parses the whole message instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree import ElementTree as ET

# Shorter texts are not worth the detour (and keep the generic path the common one).
MIN_LIFTED = 16 * 1024
_MARKER = b"psfleet-lifted-stream-text"
# A start tag named Stream with any prefix; `[^<>]` stops at a `>` inside an attribute
# value, which the checks on the text below then refuse.
_STREAM_START = re.compile(rb"<(?:[A-Za-z_][\w.\-]*:)?Stream(?:\s[^<>]*)?>")


@dataclass(frozen=True, slots=True)
class Lifted:
    skeleton: bytes  # the message with the marker where the text was
    text: bytes

    def restore(self, root: ET.Element) -> bool:
        """Give the text back to the element holding the marker; False if none holds it
        whole (the fast path did not apply: parse the whole message)."""
        marker = _MARKER.decode("ascii")
        for element in root.iter():
            if element.text == marker:
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
    text = message[text_at:text_end]
    if not text.isascii() or any(c in text for c in (b"&", b">", b"\r")):
        return None
    if _MARKER in message:
        return None
    return Lifted(message[:text_at] + _MARKER + message[text_end:], text)

"""Test messages: ones with a unique marker, and the check of a whole store against what was
sent (complete, byte-exact, no stranger)."""

from __future__ import annotations

import random
import re
from pathlib import Path

from .maildir import Stored, store_files, wire_to_stored

SENDER = "sender@example.org"
MARKER_RX = re.compile(rb"^Message-ID: <(m-[0-9a-z-]+)@robust\.test>$", re.M)


def make_body(marker: str, size: int, rng: random.Random | None = None) -> bytes:
    """A CRLF message of about `size` octets: headers with the marker, lines that start with
    '.', and a final line naming the marker (so a truncated copy is recognisable)."""
    rng = rng or random.Random(marker)
    head = (f"From: <{SENDER}>\r\nTo: <undisclosed-recipients:;>\r\n"
            f"Subject: robustness {marker}\r\nMessage-ID: <{marker}@robust.test>\r\n\r\n").encode()
    lines = []
    n = len(head)
    i = 0
    while n < size:
        # Varying line lengths (<= 998), some starting with '.', deterministic per marker.
        k = rng.randrange(0, 200)
        line = (b"." if i % 7 == 3 else b"") + f"{marker} line {i} ".encode() + b"x" * k
        lines.append(line)
        n += len(line) + 2
        i += 1
    lines.append(f"END {marker}".encode())
    return head + b"\r\n".join(lines) + b"\r\n"


def expected_stored_content(body: bytes) -> bytes:
    """What follows Taube's Return-Path and Received headers in the stored file."""
    return wire_to_stored(body)


def marker_of(content: bytes) -> str | None:
    m = MARKER_RX.search(content.split(b"\n\n", 1)[0])
    return m.group(1).decode() if m else None


def check_store(mail_root: Path, sent: dict[str, bytes]) -> dict[tuple[str, str], int]:
    """Parse every stored file; each must be a complete, byte-exact copy of a message in `sent`
    (marker -> CRLF body as sent). Returns {(marker, maildir): count}; raises AssertionError
    naming the first bad file."""
    seen: dict[tuple[str, str], int] = {}
    for p in store_files(mail_root):
        raw = p.read_bytes()
        try:
            st = Stored(raw)
        except AssertionError as e:
            raise AssertionError(f"{p}: not a complete stored message ({len(raw)} bytes): {e}")
        mk = marker_of(st.content)
        if mk is None:
            raise AssertionError(f"{p}: no marker in the headers ({len(raw)} bytes): "
                                 f"{raw[:300]!r}")
        if mk not in sent:
            raise AssertionError(f"{p}: marker {mk} was never sent")
        want = expected_stored_content(sent[mk])
        if st.content != want:
            raise AssertionError(
                f"{p}: content differs from what was sent for {mk}: stored {len(st.content)} "
                f"bytes, sent {len(want)}; stored tail {st.content[-80:]!r}, "
                f"expected tail {want[-80:]!r}")
        key = (mk, str(p.parent.parent))
        seen[key] = seen.get(key, 0) + 1
    return seen


def message(sender: str, rcpt: str, subject: str, body: str = "Hello.") -> bytes:
    """A small CRLF message with From, To, Subject and a Message-ID made of the subject."""
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@client.test>\r\n\r\n{body}\r\n").encode()

"""Reading Maildirs and the messages Taube stored in them.

With the delivery journal (the default) a 250 means the message is durable in the journal, and
its Maildir file follows a few milliseconds later; settle() waits for that, and every reader
here calls it first.
"""

from __future__ import annotations

import email.utils
import os
import re
import time
from pathlib import Path


def _fd_targets(pid: int | str):
    """What each open descriptor of process `pid` points to."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return
    for fd in fds:
        try:
            yield os.readlink(fd)
        except OSError:
            continue


def _in_a_tmp(root: str, target: str) -> bool:
    return target.startswith(root + "/") and "/tmp/" in target[len(root):]


def open_temp_files(pid: int, mail_root: Path) -> list[str]:
    """Temp files the server holds open under `mail_root`: named ones in a tmp/ and anonymous
    (O_TMPFILE) ones, which /proc shows as "<dir>/tmp/#<inode> (deleted)"."""
    root = str(Path(mail_root).resolve())
    return [t for t in _fd_targets(pid) if _in_a_tmp(root, t)]


def _temp_file_open_under(root: str) -> bool:
    """Whether any process holds a file open in a tmp/ below `root`."""
    return any(_in_a_tmp(root, t) for proc in Path("/proc").iterdir() if proc.name.isdigit()
               for t in _fd_targets(proc.name))


def settle(mail_root: Path, timeout: float = 5.0) -> None:
    """Waits until the messages the server has accepted are in their Maildirs: until no process
    holds a file open in a tmp/ below mail_root (the journal's pending Maildir files are
    anonymous O_TMPFILE files there), or at timeout (a session may be stuck mid-transaction on
    purpose)."""
    root = str(Path(mail_root).resolve())
    deadline = time.monotonic() + timeout
    while _temp_file_open_under(root) and time.monotonic() < deadline:
        time.sleep(0.005)


def count_files(d: Path) -> int:
    """Entries of a directory (0 if it does not exist); no settle(), for load generators."""
    try:
        return sum(1 for _ in os.scandir(d))
    except FileNotFoundError:
        return 0


def maildir_messages(maildir: Path) -> list[Path]:
    """The messages in maildir/new, oldest first."""
    settle(Path(maildir).parent.parent)
    new = Path(maildir) / "new"
    if not new.is_dir():
        return []
    return sorted((p for p in new.iterdir() if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: (p.stat().st_mtime_ns, p.name))


def maildir_tmp(maildir: Path) -> list[Path]:
    tmp = Path(maildir) / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []


def wait_messages(maildir: Path, n: int, timeout: float = 10.0) -> list[Path]:
    """Wait until maildir/new holds at least n messages; return them (may be fewer on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = maildir_messages(maildir)
        if len(msgs) >= n or time.monotonic() > deadline:
            return msgs
        time.sleep(0.05)


def all_maildirs(mail_root: Path) -> list[Path]:
    """Every Maildir (a directory holding new/) under mail_root."""
    root = Path(mail_root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.rglob("new") if p.is_dir())


def count_all_messages(mail_root: Path) -> int:
    settle(mail_root)
    return sum(len(maildir_messages(m)) for m in all_maildirs(mail_root))


def tmp_leftovers(mail_root: Path) -> list[Path]:
    return [f for m in all_maildirs(mail_root) for f in maildir_tmp(m)]


def tmp_files(mail_root: Path) -> list[Path]:
    """Every entry of every tmp/ directory under the mail root (also of broken Maildirs whose
    new/ is not a directory, which tmp_leftovers does not see)."""
    root = Path(mail_root)
    if not root.is_dir():
        return []
    return sorted(f for d in root.rglob("tmp") if d.is_dir() for f in d.iterdir())


def store_files(mail_root: Path) -> list[Path]:
    """Every file in every new/ and cur/ under the mail root (once accepted messages are there)."""
    settle(mail_root)
    out = []
    for md in all_maildirs(mail_root):
        for sub in ("new", "cur"):
            d = md / sub
            if d.is_dir():
                out.extend(p for p in d.iterdir() if p.is_file())
    return sorted(out)


def all_stored(mail_root: Path) -> list[Path]:
    return [p for md in all_maildirs(mail_root) for p in maildir_messages(md)]


def find_marker(mail_root: Path, marker: bytes, timeout: float = 5.0) -> list[Path]:
    """The stored messages containing `marker`, waiting up to timeout for the first."""
    deadline = time.monotonic() + timeout
    while True:
        hits = [p for p in all_stored(mail_root) if marker in p.read_bytes()]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.05)


# -- a stored message ------------------------------------------------------------------------


class Stored:
    """A message as Taube stored it: its Return-Path and Received prefix, then the content."""

    # Lenient parse (the TCP-info comment may lack the helo name) so that one formatting
    # deviation does not mask every other check; test_smtplib's
    # test_received_header_exact_format holds the documented format:
    #   from <helo> (<helo> [<ip>]) by <hostname> (Taube) with ESMTP id <ID> for <rcpt>; <date>
    RECEIVED_RX = re.compile(
        r"^from (?P<helo>\S+) \((?:(?P<helo2>[^\s\[]+) )?\[(?:IPv6:)?(?P<ip>[0-9a-fA-F.:]+)\]\) "
        r"(?:\(Authenticated sender: (?P<auth>[^)]*)\) )?"
        r"by (?P<by>\S+) \(Taube\) with (?P<with>\S+)(?: \((?P<tls>[^)]*)\))? id (?P<id>\S+)"
        r"(?: for <(?P<for>[^>]*)>)?; (?P<date>.+)$")

    def __init__(self, raw: bytes):
        self.raw = raw
        if b"\r\n" in raw:
            raise AssertionError(f"stored message contains CRLF, expected LF line endings: "
                                 f"{raw[:200]!r}")
        # First line: Return-Path.
        first, sep, rest = raw.partition(b"\n")
        m = re.fullmatch(rb"Return-Path: <(.*)>", first)
        if not sep or not m:
            raise AssertionError(f"stored message does not start with Return-Path: {raw[:200]!r}")
        self.return_path = m.group(1).decode("utf-8", "replace")
        # Second header: Received, possibly folded over several lines.
        if not rest.startswith(b"Received:"):
            raise AssertionError(f"no Received header after Return-Path: {raw[:300]!r}")
        lines = []
        while True:
            line, sep, rest = rest.partition(b"\n")
            lines.append(line)
            if not sep:
                raise AssertionError(f"truncated Received header: {raw[:300]!r}")
            if not rest[:1] in (b" ", b"\t"):
                break
        self.received_raw = b"\n".join(lines)
        unfolded = self.received_raw.decode("utf-8", "replace")[len("Received:"):]
        self.received = re.sub(r"\s+", " ", unfolded.replace("\n", "")).strip()
        self.content = rest
        rm = self.RECEIVED_RX.match(self.received)
        if not rm:
            raise AssertionError(f"Received header does not match the documented format: "
                                 f"{self.received!r}")
        self.r = rm.groupdict()
        try:
            self.date = email.utils.parsedate_to_datetime(self.r["date"])
        except (TypeError, ValueError):
            raise AssertionError(f"Received date is not an RFC 5322 date: {self.r['date']!r}")
        if self.date.tzinfo is None:
            raise AssertionError(f"Received date has no zone: {self.r['date']!r}")

    @property
    def queue_id(self) -> str:
        return self.r["id"]


def read_stored(path: Path) -> Stored:
    return Stored(Path(path).read_bytes())


def wire_to_stored(wire: bytes) -> bytes:
    """What Taube must store for a CRLF-clean DATA payload that was already dot-unstuffed."""
    return wire.replace(b"\r\n", b"\n")


# The strict form of the Received header (the TLS and AUTH tests check every field).
RECEIVED_RX = re.compile(
    r"^from (?P<helo>\S+) \((?:\S+ )?\[(?P<ip>[0-9a-fA-F.:]+)\]\)"
    r"(?: \(Authenticated sender: (?P<auth>[^)]*)\))?"
    r" by (?P<by>\S+) \(Taube\) with (?P<with>[A-Z0-9]+)"
    r"(?: \((?P<tls>[^)]*)\))?"
    r" id (?P<id>\S+)(?: for <(?P<for>[^>]*)>)?; (?P<date>.+)$")
TLS_INFO_RX = re.compile(r"^TLSv1\.[23] with cipher [A-Za-z0-9_-]+$")


def received(raw: bytes) -> str:
    """The first Received header of a stored message, unfolded, without the field name."""
    text = raw.decode("utf-8", "replace")
    m = re.search(r"^Received:(.*(?:\n[ \t].*)*)", text, re.M)
    if not m:
        raise AssertionError(f"no Received header: {raw[:400]!r}")
    return re.sub(r"\s+", " ", m.group(1)).strip()


def parse_received(raw: bytes) -> dict:
    rec = received(raw)
    m = RECEIVED_RX.match(rec)
    if not m:
        raise AssertionError(f"Received header not in the documented format: {rec!r}")
    return m.groupdict()

"""Helpers of the outbound tests (tests/integration/test_outbound*.py): a Taube whose queue
delivers to SmtpPeers, submitting mail to it, reading the DSNs it sends back (RFC 3464 in a
multipart/report, RFC 6522), its per-recipient log lines and its queue directory.

The configuration contract (keys fixed by the issue; durations in seconds):
    [relay]     networks, smarthost ("host:port"), smarthost_tls, smarthost_auth_file
    [queue]     path, retry_min, retry_max, max_lifetime, delay_warning, max_connections,
                per_destination
    [outbound]  tls (none | opportunistic | required), port, helo_name
    [dns]       servers
    [transport] "domain" = "smtp:[host]:port" | "smtp:host:port" | "smarthost" | "mx" | "local"
Tests run with short retries (retry_min = 1, retry_max = 2) and max_lifetime = 20, so a retry
comes within ~2 s and expiry after ~20 s.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from pathlib import Path

from . import HOST, HOSTNAME
from .config import merge
from .maildir import maildir_messages, settle
from .process import Taube
from .smtp import RawClient, dot_stuff, queued_id

ALICE = "alice@example.org"      # a local user: bounces to her land in her Maildir
BOB = "bob@remote.test"
CAROL = "carol@remote.test"
REMOTE = "remote.test"
QUEUE = "var/queue"               # relative to the server's directory (its cwd)

# A per-recipient delivery log line (Postfix's shape), e.g.
#   QID: to=<bob@remote.test>, relay=127.0.0.2[127.0.0.2]:2526, delay=0.12,
#   delays=0.01/0/0.05/0.06, dsn=2.0.0, status=sent (250 2.0.0 Ok)
NUM = r"\d+(?:\.\d+)?"


def status_rx(rcpt: str, status: str = "sent", qid: str | None = None) -> str:
    q = re.escape(qid) if qid else r"[0-9A-Za-z]+"
    return (rf"\b({q}): to=<{re.escape(rcpt)}>, (?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]+), "
            rf"delay=(?P<delay>{NUM}), delays=(?P<delays>{NUM}/{NUM}/{NUM}/{NUM}), "
            rf"dsn=(?P<dsn>\d\.\d{{1,3}}\.\d{{1,3}}), status={status} \((?P<text>.*)\)$")


def config(routes: dict | None = None, *, relay: dict | None = None, queue: dict | None = None,
           outbound: dict | None = None, extra: dict | None = None) -> dict:
    """A Taube config (merged over base_config by Taube) that relays for 127.0.0.0/8 and
    delivers `routes` ({"remote.test": "smtp:[127.0.0.2]:2526"}) with short retry times."""
    cfg = {
        "relay": merge({"networks": ["127.0.0.0/8"]}, relay),
        "queue": merge({"path": "./" + QUEUE, "retry_min": 1, "retry_max": 2,
                        "max_lifetime": 20, "delay_warning": 0}, queue),
        "outbound": merge({"tls": "opportunistic"}, outbound),
    }
    if routes:
        cfg["transport"] = dict(routes)
    return merge(cfg, extra)


def guard(test, srv: Taube) -> Taube:
    """Register srv's cleanup on a unittest.TestCase, preceded by a check that it did not die
    during the test (an ASan report or a crash ends the process: a test whose assertions all
    ran before that would otherwise pass). A clean exit 0 (the test's own stop()) is fine."""
    test.addCleanup(srv.cleanup)

    def check():
        rc = srv.proc.poll()
        if rc not in (None, 0):
            raise AssertionError(f"taube died during the test ({srv.exit_status()}); log:\n"
                                 + srv.log_text()[-8000:])
    test.addCleanup(check)
    return srv


def route(peer) -> str:
    return f"smtp:[{peer.host}]:{peer.port}"


def start(routes=None, **kw) -> Taube:
    """A Taube with config(routes, **kw); `port` (a fixed listener port, for restarts) and
    `ready` go to Taube."""
    targs = {k: kw.pop(k) for k in ("port", "ready", "root") if k in kw}
    return Taube(config(routes, **kw), **targs)


def message(marker: str, *, subject: str | None = None, body: bytes = b"",
            headers: list[str] = (), to: str = BOB) -> bytes:
    """A CRLF message (not dot-stuffed) whose Subject and Message-ID carry `marker`."""
    lines = [f"From: <{ALICE}>", f"To: <{to}>", f"Subject: {subject or marker}",
             f"Message-ID: <{marker}@client.test>", "Date: Mon, 01 Jan 2024 00:00:00 +0000",
             *headers, "", f"marker {marker}"]
    return ("\r\n".join(lines) + "\r\n").encode() + body


def submit(srv: Taube, sender: str, rcpts: list[str], body: bytes, *, mail_params: str = "",
           rcpt_params: dict | None = None, source: str | None = None) -> str:
    """One transaction from 127.0.0.1 (a relay network); asserts 250 for every command and
    returns the queue id of the final reply."""
    with RawClient(HOST, srv.port, 15, source=source) as c:
        c.greet()
        c.expect("250", f"MAIL FROM:<{sender}>" + (f" {mail_params}" if mail_params else ""))
        for r in rcpts:
            p = (rcpt_params or {}).get(r, "")
            c.expect("250", f"RCPT TO:<{r}>" + (f" {p}" if p else ""))
        c.expect("354", "DATA")
        stuffed = dot_stuff(body if body.endswith(b"\r\n") else body + b"\r\n")
        c.send(stuffed + b".\r\n")
        reply = c.reply()
        if reply.code != 250:
            raise AssertionError(f"end of data: {reply.text}\n{srv.log_text()[-3000:]}")
        qid = queued_id(reply)
        c.cmd("QUIT")
    return qid


def split_received(data: bytes) -> tuple[str, bytes]:
    """(the first header field, unfolded, if it is Received:; the rest) of wire content."""
    m = re.match(rb"Received:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)\r\n", data)
    if not m:
        raise AssertionError(f"content does not start with a Received: header: {data[:300]!r}")
    return re.sub(r"\s+", " ", m.group(1).decode("utf-8", "replace")).strip(), data[m.end():]


# -- the queue directory -----------------------------------------------------------------------


def queue_path(srv: Taube) -> Path:
    return srv.dir / QUEUE


def queue_files(srv: Taube, skip=("corrupt",)) -> list[Path]:
    root = queue_path(srv)
    if not root.is_dir():
        return []
    # Files in the queue's subdirectories (items, temp files, transcripts); the in-flight log
    # (root/inflight.0, .1: store/inflight_log.hpp) is the queue's own, not an item, and so is
    # the delivery history (root/history: store/delivery_history.hpp).
    return sorted(p for p in root.rglob("*") if p.is_file()
                  and len(p.relative_to(root).parts) > 1
                  and p.relative_to(root).parts[0] not in skip
                  and p.relative_to(root).parts[0] != "history")


def queue_left(srv: Taube, skip=("corrupt",), timeout: float = 3.0) -> list[Path]:
    """The queue's files once it has settled: a delivered item's envelope goes a moment after
    its message (after the next shared flush, QueueStore::remove), so an empty queue is waited
    for; whatever is still there after `timeout` is returned."""
    deadline = time.monotonic() + timeout
    while True:
        left = queue_files(srv, skip)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def queue_holding(srv: Taube, marker: bytes) -> list[Path]:
    """The queue files whose content holds `marker` (the message, or a DSN quoting it)."""
    out = []
    for p in queue_files(srv):
        try:
            if marker in p.read_bytes():
                out.append(p)
        except OSError:
            pass
    return out


def wait_queue_holding(srv: Taube, marker: bytes, timeout: float = 5.0) -> list[Path]:
    """queue_holding, waited for: a small message is a record of the queue's journal until its
    first attempt is over, and its files are written just after that attempt's log line (the
    line comes first, as Postfix's does)."""
    deadline = time.monotonic() + timeout
    while True:
        held = queue_holding(srv, marker)
        if held or time.monotonic() > deadline:
            return held
        time.sleep(0.02)


def wait_queue_clear(srv: Taube, marker: bytes, timeout: float = 15.0) -> list[Path]:
    """Wait until nothing in the queue holds `marker`; return what still does at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = queue_holding(srv, marker)
        if not left or time.monotonic() > deadline:
            return left
        srv.assert_alive()
        time.sleep(0.1)


# -- DSNs --------------------------------------------------------------------------------------


def _fields(text: str) -> dict:
    """One group of RFC 822-style fields (a DSN status group), unfolded; names lower-cased."""
    out: dict[str, str] = {}
    name = None
    for line in text.split("\n"):
        if line[:1] in (" ", "\t") and name:
            out[name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            out[name] = value.strip()
    return out


class Dsn:
    """A delivery status notification as stored in a Maildir (LF line endings)."""

    def __init__(self, raw: bytes, path: Path | None = None):
        self.raw, self.path = raw, path
        first = raw.split(b"\n", 1)[0]
        m = re.fullmatch(rb"Return-Path: <(.*)>", first)
        self.return_path = m.group(1).decode() if m else None
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.parts = self.msg.get_payload() if self.msg.is_multipart() else []
        self.per_message: dict = {}
        self.recipients: list[dict] = []
        self.status_part = None
        self.original = None
        for part in self.parts:
            ct = part.get_content_type()
            if ct in ("message/delivery-status", "message/global-delivery-status"):
                self.status_part = part
                groups = [g for g in re.split(r"\n[ \t]*\n", self._body_text(part).strip())
                          if g.strip()]
                if groups:
                    self.per_message = _fields(groups[0])
                    self.recipients = [_fields(g) for g in groups[1:]]
            elif ct in ("text/rfc822-headers", "message/rfc822", "message/global-headers",
                        "message/global"):
                self.original = part

    def _body_text(self, part) -> str:
        """The raw body of a part, found in the raw message after that part's headers (the
        email package would parse message/delivery-status into objects and lose the text)."""
        boundary = self.msg.get_boundary()
        text = self.raw.decode("utf-8", "replace")
        for seg in text.split("--" + boundary):
            head, sep, body = seg.lstrip("\n").partition("\n\n")
            if sep and re.search(r"(?im)^content-type:\s*" + re.escape(part.get_content_type()),
                                 head):
                return body
        return ""

    @property
    def content_type(self) -> str:
        return self.msg.get_content_type()

    @property
    def report_type(self) -> str | None:
        return self.msg.get_param("report-type")

    def original_text(self) -> str:
        """The returned headers (or message) as text."""
        if self.original is None:
            return ""
        return self._body_text(self.original)

    def recipient(self, addr: str) -> dict:
        for r in self.recipients:
            _, _, value = r.get("final-recipient", "").partition(";")  # "rfc822; a@b"
            if value.strip().lower() == addr.lower():
                return r
        raise AssertionError(f"no status group for {addr} in {self.recipients}\n"
                             f"{self.raw.decode(errors='replace')}")

    def actions(self) -> list[str]:
        return [r.get("action", "").lower() for r in self.recipients]

    def __repr__(self) -> str:
        return f"Dsn({self.raw[:2000].decode(errors='replace')!r})"


def dsns(srv: Taube, addr: str) -> list[Dsn]:
    """Every multipart/report in the Maildir of local user `addr`."""
    out = []
    for p in maildir_messages(srv.maildir(addr)):
        raw = p.read_bytes()
        d = Dsn(raw, p)
        if d.content_type == "multipart/report":
            out.append(d)
    return out


def wait_dsns(srv: Taube, addr: str, n: int = 1, timeout: float = 15.0,
              action: str | None = None) -> list[Dsn]:
    """Wait until `addr` has n DSNs (those with a recipient of `action`, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        got = [d for d in dsns(srv, addr) if action is None or action in d.actions()]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        srv.assert_alive()
        time.sleep(0.1)


def all_mail(srv: Taube) -> list[Path]:
    """Every message in every Maildir under the mail root."""
    settle(srv.mail_root)
    root = Path(srv.mail_root)
    if not root.is_dir():
        return []
    return sorted(p for d in root.rglob("new") if d.is_dir() for p in d.iterdir()
                  if p.is_file())


def diag(srv: Taube, peer=None) -> str:
    """What a failing assertion should show: the server's log tail, the queue, the peer."""
    out = "\n--- taube log:\n" + "\n".join(srv.lines()[-60:])
    out += "\n--- queue files:\n" + "\n".join(str(p) for p in queue_files(srv, ()))
    if peer is not None:
        for s in peer.sessions():
            out += (f"\n--- peer session {s.number} tls={s.tls} ehlo={s.ehlo} "
                    f"msgs={s.messages}: {s.commands[:20]}")
        if peer.errors:
            out += "\n--- peer errors:\n" + "\n".join(peer.errors)
    return out


__all__ = ["ALICE", "BOB", "CAROL", "Dsn", "HOSTNAME", "QUEUE", "REMOTE", "all_mail", "config",
           "diag", "dsns", "guard", "message", "queue_files", "queue_holding", "queue_path", "route",
           "split_received", "start", "status_rx", "submit", "wait_dsns", "wait_queue_clear"]

"""Helpers of the robustness tests: crash consistency, disk faults, limits, hostile input.

Their server is a plain Taube (`RTaube`: fixed port, any mail root, kill9 and restart are
Taube's own); this module gathers what those tests use under the names they use.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import time

from .maildir import maildir_messages, read_stored, store_files, tmp_files, wait_messages
from .messages import SENDER, check_store, expected_stored_content, make_body, marker_of
from .procinfo import RssSampler, fd_count, raise_nofile, rss_kb
from .process import LISTEN_RX, Taube
from .smtp import abort_rst, connect, dot_stuff, queued_id, read_until_close

__all__ = ["LISTEN_RX", "RTaube", "RssSampler", "SENDER", "Taube", "abort_rst", "check_store",
           "connect", "dot_stuff", "expected_stored_content", "fd_count", "have_cmd",
           "maildir_messages", "make_body", "marker_of", "normal_transaction", "queued_id",
           "raise_nofile", "read_stored", "read_until_close", "report", "rss_kb", "run",
           "store_files", "tmp_files", "wait_messages"]

RTaube = Taube


def normal_transaction(srv: Taube, rcpt: str = "alice@localhost", tag: str = "final",
                       timings: dict | None = None) -> float:
    """A complete, ordinary transaction (EHLO, MAIL, RCPT, DATA, QUIT); returns its duration and
    asserts the message arrived complete. `timings`, if given, gets "connect" (the TCP
    handshake, done by the kernel before the server accepts) and "dialog" (greeting to 221)."""
    marker = f"m-{tag}-{random.getrandbits(40):x}"
    body = make_body(marker, 2000)
    md = srv.maildir(rcpt)
    before = len(maildir_messages(md))
    t0 = time.monotonic()
    with srv.client() as c:
        t_conn = time.monotonic()
        if timings is not None:
            timings["connect"] = t_conn - t0
        c.greet()
        queued_id(c.send_message(SENDER, [rcpt], dot_stuff(body)))
        c.expect("221", "QUIT")
    dt = time.monotonic() - t0
    if timings is not None:
        timings["dialog"] = time.monotonic() - t_conn
    msgs = wait_messages(md, before + 1, timeout=5)
    found = [m for m in msgs if marker_of(read_stored(m).content) == marker]
    if len(found) != 1:
        raise AssertionError(f"normal transaction {marker}: {len(found)} copies in {md}")
    if read_stored(found[0]).content != expected_stored_content(body):
        raise AssertionError(f"normal transaction {marker}: stored content differs")
    return dt


def report(name: str, **values) -> None:
    """One measurement line on stderr (quoted in docs/robustness.md)."""
    vals = " ".join(f"{k}={v}" for k, v in values.items())
    print(f"MEASURE {name}: {vals}", file=sys.stderr, flush=True)


def have_cmd(cmd: str) -> bool:
    return shutil.which(cmd) is not None


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """A command's result with text output."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)

"""Hostile input against the real binary (issue 4): huge lines, NUL octets, invalid UTF-8,
10,000 pipelined RCPTs, error floods, clients that vanish mid-DATA/mid-BDAT, a client that never
reads its replies, and a 20 MB message. Every test ends by checking that the server still
answers an ordinary transaction and exits 0 on SIGTERM (tearDown).

Each test runs its own server (fresh mail root, fresh RSS baseline).
"""

from __future__ import annotations

import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import robust as rh  # noqa: E402

EHLO = b"EHLO hostile.test\r\n"
RSS_LINE_LIMIT_MB = 20
RSS_MESSAGE_LIMIT_MB = 32


class Hostile(unittest.TestCase):
    CONFIG = {"limits": {"command_timeout": 2, "data_timeout": 5}}

    def setUp(self):
        self.srv = rh.RTaube(self.CONFIG)

    def tearDown(self):
        try:
            # The server never crashes: it is alive, serves an ordinary transaction, and exits
            # 0 on SIGTERM.
            self.srv.assert_alive()
            rh.normal_transaction(self.srv, tag="after")
            self.assertEqual(self.srv.stop(), 0)
            self.assertEqual(h.tmp_leftovers(self.srv.mail_root), [], "tmp/ not clean at exit")
        finally:
            self.srv.cleanup()

    # -- helpers -----------------------------------------------------------------------------

    def open(self, ehlo: bool = True) -> h.RawClient:
        c = self.srv.client()
        self.addCleanup(c.close)
        if ehlo:
            c.greet("EHLO hostile.test")
        else:
            c.expect("220 ")
        return c

    def assert_store_empty(self) -> None:
        self.assertEqual(rh.store_files(self.srv.mail_root), [], "nothing may be delivered")

    def wait_tmp_clean(self, timeout: float = 5.0) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            left = h.tmp_leftovers(self.srv.mail_root) + h.open_temp_files(self.srv.pid,
                                                                            self.srv.mail_root)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.01)

    def wait_tmp_file(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Named in tmp/, or anonymous (O_TMPFILE) and visible only as the server's open file.
            if h.tmp_leftovers(self.srv.mail_root) or h.open_temp_files(self.srv.pid,
                                                                        self.srv.mail_root):
                return True
            time.sleep(0.01)
        return False

    # -- long lines --------------------------------------------------------------------------

    def test_100k_command_line_without_newline(self):
        """100 KB of a command line with no CRLF: one 500 5.5.6 when the line ends, nothing
        before it, the session goes on, and the server does not buffer the line."""
        c = self.open()
        base = rh.rss_kb(self.srv.pid)
        c.send(b"MAIL FROM:<" + b"a" * 100_000)
        time.sleep(0.3)
        c.sock.settimeout(0.3)
        with self.assertRaises(socket.timeout, msg="no reply before the line ends"):
            c.sock.recv(100)
        c.sock.settimeout(10)
        grow = (rh.rss_kb(self.srv.pid) - base) / 1024
        c.send(b"@example.org>\r\n")
        r = c.reply()
        self.assertEqual(r.last, "500 5.5.6 Error: line too long")
        c.expect("250 2.0.0", "NOOP")
        c.expect("250 2.1.0", f"MAIL FROM:<{rh.SENDER}>")
        rh.report("long_line_100k", rss_growth_mb=f"{grow:.1f}")
        self.assertLess(grow, RSS_LINE_LIMIT_MB)

    def test_32mb_command_line_memory_bounded(self):
        """The same with 32 MB: memory must not grow with the line (bounded buffer)."""
        c = self.open()
        chunk = b"x" * (1 << 20)
        with rh.RssSampler(self.srv.pid) as rss:
            c.send(b"NOOP ")
            for _ in range(32):
                c.send(chunk)
            c.send(b"\r\n")
            r = c.reply()
        self.assertEqual(r.last, "500 5.5.6 Error: line too long")
        c.expect("250 2.0.0", "NOOP")
        rh.report("long_line_32m", rss_growth_mb=f"{rss.growth_mb:.1f}", rss_base_kb=rss.base,
                  rss_peak_kb=rss.peak)
        self.assertLess(rss.growth_mb, RSS_LINE_LIMIT_MB)

    # -- NUL and invalid UTF-8 ---------------------------------------------------------------

    def test_nul_bytes_in_commands(self):
        c = self.open()
        for line in (b"NOOP\x00", b"MAIL FROM:<a\x00b@example.org>", b"EHLO a\x00b",
                     b"\x00\x00\x00\x00", b"RCPT TO:<bob@localhost>\x00"):
            r = c.cmd(line)
            self.assertEqual(r.last, "500 5.5.2 Error: bad syntax", f"after {line!r}")
        # The session is intact: a full transaction works on the same connection.
        body = rh.make_body("m-nul-1", 500)
        h.queued_id(c.send_message(rh.SENDER, ["bob@localhost"], h.dot_stuff(body)))
        self.assertEqual(rh.check_store(self.srv.mail_root, {"m-nul-1": body}),
                         {("m-nul-1", str(self.srv.maildir("bob@localhost"))): 1})

    def test_invalid_utf8_addresses(self):
        c = self.open()
        # Without SMTPUTF8: invalid UTF-8 is a syntax error, valid non-ASCII needs SMTPUTF8.
        for addr in (b"\xff\xfe@example.org", b"\xc3\x28@example.org", b"a@\xff.example.org"):
            r = c.cmd(b"MAIL FROM:<" + addr + b">")
            self.assertIn(r.code, (501, 553), f"{addr!r}: {r.text}")
            self.assertEqual(r.last, "501 5.1.7 Bad sender address syntax", addr)
        r = c.cmd("MAIL FROM:<jörg@example.org>".encode())
        self.assertEqual(r.last, "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter")
        # With SMTPUTF8 invalid sequences (truncated, overlong, surrogate, > U+10FFFF) stay
        # invalid; valid UTF-8 is accepted.
        for addr in (b"\xc3\x28@example.org", b"\xc0\xaf@example.org",
                     b"\xed\xa0\x80@example.org", b"\xf4\x90\x80\x80@example.org",
                     b"j\xc3\xb6rg@\xe2\x82.org"):
            r = c.cmd(b"MAIL FROM:<" + addr + b"> SMTPUTF8")
            self.assertEqual(r.last, "501 5.1.7 Bad sender address syntax", addr)
        c.expect("250 2.1.0", "MAIL FROM:<jörg@example.org> SMTPUTF8".encode())
        for addr in (b"\xe2\x82@localhost", b"a\xff@localhost", b"x@\xc0\x80localhost"):
            r = c.cmd(b"RCPT TO:<" + addr + b">")
            self.assertEqual(r.last, "501 5.1.3 Bad recipient address syntax", addr)
        c.expect("250 2.0.0", "RSET")
        c.expect("250 2.1.0", f"MAIL FROM:<{rh.SENDER}>")
        r = c.cmd("RCPT TO:<jörg@localhost>".encode())
        self.assertEqual(r.last, "553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter")
        r = c.cmd(b"RCPT TO:<\xe2\x82@localhost>")
        self.assertIn(r.code, (501, 553), r.text)
        c.expect("250 2.0.0", "RSET")
        self.assert_store_empty()

    # -- floods ------------------------------------------------------------------------------

    def test_10000_pipelined_rcpts(self):
        """max_recipients 1000 (default): 1000 x 250, then 452 4.5.3 until max_errors (20, the
        default) error replies, then 421 4.7.0 and close; or the session survives every 452.
        Either way no reply may be lost: a server that closes while pipelined input is unread
        must not let the kernel reset the connection over replies it has already written."""
        s = rh.connect(self.srv.port)
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            greeting += s.recv(1000)
        self.assertTrue(greeting.startswith(b"220 "))
        s.sendall(EHLO + f"MAIL FROM:<{rh.SENDER}>\r\n".encode())
        payload = b"".join(b"RCPT TO:<u%d@localhost>\r\n" % i for i in range(10_000))
        send_err: list[BaseException] = []

        def sender():
            try:
                s.sendall(payload + b"NOOP\r\n")
            except OSError as e:  # the server may close the connection while we still send
                send_err.append(e)

        t = threading.Thread(target=sender, daemon=True)
        t0 = time.monotonic()
        t.start()
        data = b""
        ended = "timeout"
        s.settimeout(20)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                ended = "reset"
                break
            except socket.timeout:
                break
            if not chunk:
                ended = "eof"
                break
            data += chunk
        elapsed = time.monotonic() - t0
        t.join(10)
        s.close()
        lines = data.split(b"\r\n")
        self.assertEqual(lines[-1], b"", f"a reply was cut off ({ended}): {lines[-1][:80]!r}")
        lines = lines[:-1]
        ehlo_end = next(i for i, l in enumerate(lines) if l.startswith(b"250 "))
        rest = lines[ehlo_end + 1:]
        self.assertEqual(rest[0], b"250 2.1.0 Ok", "MAIL")
        rcpt = rest[1:]
        ok = [l for l in rcpt[:1000] if l == b"250 2.1.5 Ok"]
        if len(ok) != 1000:
            self.fail(f"replies lost: the connection ended by {ended} after {len(ok)} x "
                      f"'250 2.1.5 Ok' and nothing else (expected 1000 x 250, 20 x 452, 421); "
                      f"client send error: {send_err}; server alive: "
                      f"{self.srv.proc.poll() is None}")
        tail = rcpt[1000:]
        n452 = sum(1 for l in tail if l == b"452 4.5.3 Error: too many recipients")
        if tail and tail[-1].startswith(b"421 "):
            outcome = "closed_after_max_errors"
            self.assertEqual(tail[-1], b"421 4.7.0 mx.test Error: too many errors")
            self.assertEqual(n452, 20, f"452s before the 421: {tail[:3]}...")
            self.assertEqual(len(tail), 21, "nothing but 452s before the 421, nothing after")
        else:
            outcome = "survived"
            self.assertEqual(n452, 9000, f"ended by {ended}; last replies {tail[-3:]}")
            self.assertEqual(tail[-1], b"250 2.0.0 Ok", "NOOP after the flood")
        rh.report("rcpt_flood", outcome=outcome, ended=ended, replies=len(rcpt), n452=n452,
                  seconds=f"{elapsed:.2f}")
        self.assert_store_empty()

    def test_1000_errors(self):
        """max_errors 20: 20 error replies, one 421 4.7.0, closed; nothing answered after."""
        s = rh.connect(self.srv.port)
        s.recv(1000)
        s.sendall(EHLO)
        time.sleep(0.2)
        try:
            s.sendall(b"BOGUS command\r\n" * 1000 + b"NOOP\r\n")
        except OSError:
            pass
        data, closed = rh.read_until_close(s, 10)
        s.close()
        self.assertTrue(closed, "the connection must be closed")
        lines = data.split(b"\r\n")
        self.assertEqual(lines[-1], b"", "every reply ends in CRLF")
        lines = [l for l in lines[:-1] if not l.startswith(b"250")]
        self.assertEqual(lines.count(b"500 5.5.1 Error: command not recognized"), 20)
        self.assertEqual(len(lines), 21, lines[-3:])
        self.assertEqual(lines[-1], b"421 4.7.0 mx.test Error: too many errors")

    # -- clients that vanish -----------------------------------------------------------------

    def vanish(self, prologue: bytes, payload: bytes, rst: bool) -> None:
        c = self.open()
        r = c.cmd(f"MAIL FROM:<{rh.SENDER}>")
        self.assertEqual(r.code, 250)
        c.expect("250", "RCPT TO:<alice@localhost>")
        c.expect("250", "RCPT TO:<bob@localhost>")
        c.send(prologue)
        if prologue.startswith(b"DATA"):
            c.expect("354")
        mark = len(self.srv.log)
        c.send(payload)
        # More than the 128 KiB spool threshold: a temp file exists before we vanish.
        self.assertTrue(self.wait_tmp_file(), "the body should be spooling into tmp/")
        if rst:
            rh.abort_rst(c.sock)
        else:
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
        self.assertIsNotNone(self.srv.wait_log(r"lost connection after \S+ from unknown\[127\.0\.0\.1\]", 5,
                                               start=mark), "server noticed the lost client")
        self.assertEqual(self.wait_tmp_clean(), [], "tmp/ must be cleaned after the abort")
        self.assert_store_empty()

    def test_vanish_mid_data_rst(self):
        self.vanish(b"DATA\r\n", rh.make_body("m-v1", 300_000)[:-200], rst=True)

    def test_vanish_mid_data_fin(self):
        self.vanish(b"DATA\r\n", rh.make_body("m-v2", 300_000)[:-200], rst=False)

    def test_vanish_mid_bdat_chunk(self):
        self.vanish(b"BDAT 1000000 LAST\r\n", b"y" * 300_000, rst=True)

    def test_vanish_between_bdat_chunks(self):
        chunk = b"z" * 200_000
        self.vanish(b"", b"BDAT %d\r\n" % len(chunk) + chunk, rst=False)

    # -- a client that never reads -----------------------------------------------------------

    def test_pipelining_client_never_reads(self):
        """Megabytes of pipelined NOOPs, replies never read: the server's memory stays bounded
        and the write timeout (command_timeout = 2 s) closes the connection."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect((h.HOST, self.srv.port))
        s.settimeout(0.5)
        chunk = b"NOOP\r\n" * 10_000
        sent = 0
        stalled_at = None
        closed_at = None
        t0 = time.monotonic()
        mark = len(self.srv.log)
        with rh.RssSampler(self.srv.pid) as rss:
            while time.monotonic() - t0 < 30:
                try:
                    n = s.send(chunk)
                    sent += n
                    stalled_at = None
                except socket.timeout:
                    stalled_at = stalled_at or time.monotonic()
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic()
                    break
        s.close()
        self.assertIsNotNone(closed_at, f"connection still open after 30 s ({sent} bytes sent)")
        after_stall = closed_at - (stalled_at or closed_at)
        rh.report("noop_flood_no_read", sent_mb=f"{sent / 1e6:.1f}",
                  rss_growth_mb=f"{rss.growth_mb:.1f}", closed_after_s=f"{closed_at - t0:.1f}",
                  closed_after_stall_s=f"{after_stall:.1f}")
        self.assertGreater(sent, 1_000_000, "megabytes were pipelined")
        self.assertIsNotNone(self.srv.wait_log(r"timeout after \S+ from unknown\[127\.0\.0\.1\]", 2,
                                               start=mark), "closed by the write timeout")
        self.assertLess(after_stall, 6.0, "closed within a few command_timeouts of stalling")
        self.assertLess(rss.growth_mb, RSS_LINE_LIMIT_MB)

    # -- a big message -----------------------------------------------------------------------

    def test_20mb_message_memory(self):
        """A 20 MB message is streamed to disk: RSS grows by less than 32 MB; stored exactly."""
        body = rh.make_body("m-big-20m", 20 * 1024 * 1024)
        wire = h.dot_stuff(body)
        c = self.open()
        c.expect("250", f"MAIL FROM:<{rh.SENDER}> SIZE={len(body)}")
        c.expect("250", "RCPT TO:<alice@localhost>")
        c.expect("250", "RCPT TO:<bob@localhost>")
        c.expect("354", "DATA")
        t0 = time.monotonic()
        with rh.RssSampler(self.srv.pid) as rss:
            for i in range(0, len(wire), 1 << 20):
                c.send(wire[i:i + (1 << 20)])
            c.send(b".\r\n")
            h.queued_id(c.reply())
        dt = time.monotonic() - t0
        c.expect("221", "QUIT")
        rh.report("message_20mb", rss_growth_mb=f"{rss.growth_mb:.1f}", rss_base_kb=rss.base,
                  rss_peak_kb=rss.peak, seconds=f"{dt:.2f}")
        seen = rh.check_store(self.srv.mail_root, {"m-big-20m": body})
        self.assertEqual(sorted(seen.values()), [1, 1], seen)
        self.assertLess(rss.growth_mb, RSS_MESSAGE_LIMIT_MB)


if __name__ == "__main__":
    h.main()

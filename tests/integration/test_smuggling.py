"""SMTP smuggling and bare line endings (RFC 5321 §2.3.8, §4.1.1.4) against the real binary.

A message ends only on CRLF.CRLF. A receiver that also ends it on LF.LF (or CR.CR, ...) lets a
sender hide a second transaction inside one message, which a relay in front of it passes on as
content (SMTP smuggling, CVE-2023-51766 and relatives).
"""

import socket
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

FAKE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "cr-dot-cr": b"\r.\r",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
}
SMUGGLED = (b"MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n"
            b"smuggled")

servers: dict[str, h.Taube] = {}


def setUpModule():
    servers["reject"] = h.Taube()  # default: bare_newline = "reject"
    servers["normalize"] = h.Taube({"smtp": {"bare_newline": "normalize"}})
    servers["note"] = h.Taube({"smtp": {"bare_newline": "note"}})
    servers["exempt"] = h.Taube({"smtp": {"bare_newline": "reject",
                                          "bare_newline_exempt": ["127.0.0.0/8"]}})
    servers["exempt-other"] = h.Taube({"smtp": {"bare_newline": "reject",
                                                "bare_newline_exempt": ["10.0.0.0/8"]}})


def tearDownModule():
    errors = []
    for name, srv in servers.items():
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(f"{name}: {e}")
        finally:
            srv.cleanup()
    if errors:
        raise AssertionError("\n".join(errors))


def open_data(srv: h.Taube, rcpt: str) -> h.RawClient:
    c = srv.client()
    c.greet()
    c.expect("250", "MAIL FROM:<sender@localhost>")
    c.expect("250", f"RCPT TO:<{rcpt}>")
    c.expect("354", "DATA")
    return c


def no_reply_within(c: h.RawClient, seconds: float) -> bytes:
    """Return whatever the server sends within `seconds` (b"" if nothing)."""
    c.sock.settimeout(seconds)
    try:
        data = c.sock.recv(65536)
        return data if data else b"<closed>"
    except socket.timeout:
        return b""
    finally:
        c.sock.settimeout(10)


class Smuggling(unittest.TestCase):
    def attempt(self, mode: str, name: str, fake_end: bytes):
        srv = servers[mode]
        rcpt = f"target-{name}@localhost"
        before = h.count_all_messages(srv.mail_root)
        payload = b"Subject: smuggling " + name.encode() + b"\r\n\r\nhello" + fake_end + \
            SMUGGLED + b"\r\n.\r\n"
        with open_data(srv, rcpt) as c:
            c.send(payload)  # one write, exactly as an attacking relay would forward it
            r = c.reply()
            # Exactly one reply for the whole payload: the next one answers our NOOP.
            r2 = c.cmd("NOOP")
            self.assertTrue(r2.last.startswith("250"), f"smuggled commands were executed? "
                            f"after payload {payload!r} got {r.text!r} then {r2.text!r}")
        self.assertFalse(srv.maildir("victim@localhost").exists(),
                         f"{mode}: a message for victim@localhost was stored from {payload!r}")
        after = h.count_all_messages(srv.mail_root)
        self.assertEqual(h.tmp_leftovers(srv.mail_root), [])
        return r, after - before, srv.maildir(rcpt)

    def test_reject_mode(self):
        for name, fake in FAKE_ENDS.items():
            with self.subTest(name):
                r, stored, md = self.attempt("reject", name, fake)
                self.assertTrue(r.last.startswith("550 5.5.2"), f"{fake!r}: {r.text}")
                self.assertEqual(stored, 0, f"{fake!r}: nothing may be stored in reject mode")

    def test_normalize_and_note_modes(self):
        for mode in ("normalize", "note"):
            for name, fake in FAKE_ENDS.items():
                with self.subTest(mode=mode, fake=name):
                    r, stored, md = self.attempt(mode, name, fake)
                    qid = h.queued_id(r)
                    self.assertEqual(stored, 1, f"{mode} {fake!r}: exactly one message")
                    msgs = h.maildir_messages(md)
                    self.assertEqual(len(msgs), 1)
                    st = h.read_stored(msgs[0])
                    self.assertEqual(st.queue_id, qid)
                    # The would-be commands are content of that one message.
                    self.assertIn(b"MAIL FROM:<evil@example.com>", st.content)
                    self.assertTrue(st.content.rstrip(b"\n").endswith(b"smuggled"),
                                    st.content)

    def test_fake_terminator_alone_gets_no_reply(self):
        for name, fake in FAKE_ENDS.items():
            with self.subTest(name):
                with open_data(servers["reject"], f"wait-{name}@localhost") as c:
                    c.send(b"Subject: wait\r\n\r\nhello" + fake)
                    got = no_reply_within(c, 0.7)
                    self.assertEqual(got, b"", f"server answered {got!r} after {fake!r}, "
                                     "which is not CRLF.CRLF")
                    c.send(b"\r\n.\r\n")
                    c.expect("550 5.5.2")


class BareLineEndings(unittest.TestCase):
    BODY = b"Subject: bare\r\n\r\nline1\nline2\r\nline3\r\n"

    def send(self, mode: str, rcpt: str, body: bytes = BODY):
        srv = servers[mode]
        with open_data(srv, rcpt) as c:
            c.send(body + b".\r\n")
            r = c.reply()
            c.expect("250", "NOOP")
        return srv, r

    def test_bare_lf_rejected_by_default(self):
        srv, r = self.send("reject", "barelf@localhost")
        self.assertTrue(r.last.startswith("550 5.5.2"), r.text)
        self.assertFalse(srv.maildir("barelf@localhost").exists())
        self.assertEqual(h.tmp_leftovers(srv.mail_root), [])

    def test_bare_cr_rejected_by_default(self):
        srv, r = self.send("reject", "barecr@localhost",
                           b"Subject: bare cr\r\n\r\nline1\rline2\r\n")
        self.assertTrue(r.last.startswith("550 5.5.2"), r.text)
        self.assertFalse(srv.maildir("barecr@localhost").exists())

    def test_bare_lf_in_headers_rejected(self):
        srv, r = self.send("reject", "barehdr@localhost", b"Subject: x\nX-Bad: y\r\n\r\nok\r\n")
        self.assertTrue(r.last.startswith("550 5.5.2"), r.text)
        self.assertFalse(srv.maildir("barehdr@localhost").exists())

    def test_bare_lf_normalize(self):
        srv, r = self.send("normalize", "norm@localhost")
        qid = h.queued_id(r)
        msgs = h.wait_messages(srv.maildir("norm@localhost"), 1)
        self.assertEqual(len(msgs), 1)
        st = h.read_stored(msgs[0])
        self.assertEqual(st.queue_id, qid)
        self.assertEqual(st.content, b"Subject: bare\n\nline1\nline2\nline3\n")

    def test_bare_cr_normalize_is_a_line_break(self):
        srv, r = self.send("normalize", "normcr@localhost",
                           b"Subject: bare cr\r\n\r\nline1\rline2\r\n")
        h.queued_id(r)
        st = h.read_stored(h.wait_messages(srv.maildir("normcr@localhost"), 1)[0])
        self.assertEqual(st.content, b"Subject: bare cr\n\nline1\nline2\n")

    def test_bare_lf_note(self):
        srv = servers["note"]
        mark = len(srv.log)
        srv_, r = self.send("note", "note@localhost")
        qid = h.queued_id(r)
        st = h.read_stored(h.wait_messages(srv.maildir("note@localhost"), 1)[0])
        self.assertEqual(st.queue_id, qid)
        # Stored unchanged: the bare LF is still a line break, the CR LF pairs become LF.
        self.assertEqual(st.content, b"Subject: bare\n\nline1\nline2\nline3\n")
        m = srv.wait_log(r"(?i)((bare|newline|\bLF\b).*127\.0\.0\.1|127\.0\.0\.1.*"
                         r"(bare|newline|\bLF\b))", timeout=3, start=mark)
        self.assertIsNotNone(m, "note mode must log the client IP with the bare newline; "
                             "log since the transaction:\n" + "\n".join(srv.log[mark:]))

    def test_bare_cr_note_kept(self):
        srv, r = self.send("note", "notecr@localhost", b"Subject: cr\r\n\r\nline1\rline2\r\n")
        h.queued_id(r)
        st = h.read_stored(h.wait_messages(srv.maildir("notecr@localhost"), 1)[0])
        self.assertEqual(st.content, b"Subject: cr\n\nline1\rline2\n")

    def test_exempt_network(self):
        srv, r = self.send("exempt", "exempt@localhost")
        qid = h.queued_id(r)
        st = h.read_stored(h.wait_messages(srv.maildir("exempt@localhost"), 1)[0])
        self.assertEqual(st.queue_id, qid)
        self.assertEqual(st.content, b"Subject: bare\n\nline1\nline2\nline3\n")

    def test_exemption_for_other_network_does_not_apply(self):
        srv, r = self.send("exempt-other", "notexempt@localhost")
        self.assertTrue(r.last.startswith("550 5.5.2"), r.text)
        self.assertFalse(srv.maildir("notexempt@localhost").exists())


if __name__ == "__main__":
    h.main()

"""The shared test support library itself (tests/support/taubetest): config rendering, the raw
SMTP client's reply parsing against a scripted loopback peer, dot stuffing, stored-message
parsing. The integration tests and the benchmark rely on these; a bug here could make them pass
vacuously or measure the wrong thing."""

import socket
import sys
import threading
import tomllib
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest.config import substitute  # noqa: E402
from taubetest.messages import check_store, make_body, marker_of  # noqa: E402


class Peer:
    """A loopback server that sends `script` (then closes) and records what it received."""

    def __init__(self, script: bytes, close: bool = True):
        self.sock = socket.socket()
        self.sock.bind((h.HOST, 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.t = threading.Thread(target=self._run, args=(script, close), daemon=True)
        self.t.start()

    def _run(self, script: bytes, close: bool) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.sendall(script)
            conn.settimeout(0.5)
            try:
                while chunk := conn.recv(4096):
                    self.received += chunk
                    if close:
                        break
            except OSError:
                pass
        self.sock.close()

    def client(self) -> h.RawClient:
        return h.RawClient(h.HOST, self.port, timeout=5)


class Config(unittest.TestCase):
    def test_to_toml_round_trips(self):
        cfg = {"hostname": "mx.test", "log_level": "warn",
               "listener": [{"address": h.HOST, "port": 0}, {"address": h.HOST, "port": 0,
                                                             "tls": "implicit"}],
               "limits": {"max_errors": 5, "reject_long_lines": True, "command_timeout": 0.5},
               "aliases": {"info@example.org": ["a@example.org", "b@example.org"]},
               "users": {'we"ird\\@example.org': ""}}
        self.assertEqual(tomllib.loads(h.to_toml(cfg)), cfg)

    def test_merge(self):
        base = {"a": 1, "t": {"x": 1, "y": 2}, "gone": {"z": 1}}
        got = h.merge(base, {"t": {"y": None, "w": 3}, "gone": None, "b": [1]})
        self.assertEqual(got, {"a": 1, "t": {"x": 1, "w": 3}, "b": [1]})
        self.assertEqual(base["t"], {"x": 1, "y": 2}, "base is not modified")

    def test_substitute(self):
        self.assertEqual(substitute("${A}/x $A ${B}", {"A": "/a", "B": "b"}), "/a/x $A b")
        with self.assertRaises(KeyError):
            substitute("${C}", {"A": "/a"})


class Client(unittest.TestCase):
    def test_multiline_reply_and_what_was_sent(self):
        p = Peer(b"220 hi\r\n250-mx.test\r\n250-SIZE 10\r\n250 OK\r\n", close=False)
        with p.client() as c:
            self.assertEqual(c.reply().code, 220)
            r = c.expect("250 OK", "EHLO x")
            self.assertEqual(r.lines, [b"250-mx.test", b"250-SIZE 10", b"250 OK"])
            self.assertEqual(r.raw, b"250-mx.test\r\n250-SIZE 10\r\n250 OK\r\n")
            self.assertEqual(c.transcript[0], ("S", b"220 hi\r\n"))
            self.assertEqual(c.transcript[1], ("C", b"EHLO x\r\n"))
        p.t.join(5)
        self.assertEqual(p.received, b"EHLO x\r\n")

    def test_unexpected_reply_fails(self):
        with Peer(b"554 no\r\n").client() as c, self.assertRaises(AssertionError):
            c.expect("220")

    def test_malformed_replies_fail(self):
        for bad in (b"hello\r\n", b"25 x\r\n", b"250-a\r\n251 b\r\n", b"600 x\r\n"):
            with self.subTest(bad=bad), Peer(bad).client() as c:
                with self.assertRaises(h.SmtpError):
                    c.reply()

    def test_close_mid_reply(self):
        with Peer(b"250-a\r\n250 b").client() as c, self.assertRaises(h.ConnectionClosed):
            c.reply()

    def test_is_closed(self):
        with Peer(b"221 bye\r\n").client() as c:
            self.assertTrue(c.is_closed(2))
            self.assertEqual(c.buf, b"221 bye\r\n")

    def test_queued_id(self):
        with Peer(b"250 2.0.0 Ok: queued as ABC123\r\n250 2.0.0 Ok\r\n").client() as c:
            self.assertEqual(h.queued_id(c.reply()), "ABC123")
            with self.assertRaises(AssertionError):
                h.queued_id(c.reply())


class Messages(unittest.TestCase):
    def test_dot_stuff(self):
        self.assertEqual(h.dot_stuff(b".a\r\nb\r\n..c\r\n."), b"..a\r\nb\r\n...c\r\n..")

    def test_stored(self):
        raw = (b"Return-Path: <a@b.example>\nReceived: from c.example (c.example [127.0.0.1])\n"
               b"\tby mx.test (Taube) with ESMTP id QID1 for <u@example.org>;\n"
               b"\tMon, 1 Dec 2025 10:00:00 +0000\nSubject: x\n\nbody\n")
        st = h.Stored(raw)
        self.assertEqual((st.return_path, st.queue_id, st.r["for"], st.r["helo"]),
                         ("a@b.example", "QID1", "u@example.org", "c.example"))
        self.assertEqual(st.content, b"Subject: x\n\nbody\n")
        for bad in (raw.replace(b"\n", b"\r\n"), raw.replace(b"Return-Path", b"X"),
                    raw.replace(b"(Taube)", b"(Other)"), raw.replace(b" +0000", b"")):
            with self.subTest(bad=bad[:40]), self.assertRaises(AssertionError):
                h.Stored(bad)

    def test_check_store(self):
        import tempfile
        body = make_body("m-abc-1", 500)
        self.assertEqual(marker_of(h.wire_to_stored(body)), "m-abc-1")
        head = (b"Return-Path: <s@example.org>\nReceived: from c (c [127.0.0.1]) by mx.test "
                b"(Taube) with ESMTP id Q1; Mon, 1 Dec 2025 10:00:00 +0000\n")
        with tempfile.TemporaryDirectory() as tmp:
            new = Path(tmp) / "example.org" / "u" / "new"
            new.mkdir(parents=True)
            (new / "1").write_bytes(head + h.wire_to_stored(body))
            self.assertEqual(check_store(Path(tmp), {"m-abc-1": body}),
                             {("m-abc-1", str(new.parent)): 1})
            (new / "2").write_bytes(head + h.wire_to_stored(body)[:-5])
            with self.assertRaisesRegex(AssertionError, "content differs"):
                check_store(Path(tmp), {"m-abc-1": body})


if __name__ == "__main__":
    h.main()

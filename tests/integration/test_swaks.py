"""swaks (the Swiss Army Knife for SMTP) against the real binary."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

srv: h.Taube


def setUpModule():
    global srv
    srv = h.Taube()


def tearDownModule():
    try:
        srv.stop()
    finally:
        srv.cleanup()


def swaks(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    cmd = ["swaks", "--server", h.HOST, "--port", str(srv.port), "--helo", "swaks.test",
           "--timeout", "10", *args]
    return subprocess.run(cmd, capture_output=True, timeout=timeout)


class Swaks(unittest.TestCase):
    def check_ok(self, p: subprocess.CompletedProcess):
        out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, out)
        self.assertRegex(out, r"<-  250 2\.0\.0 Ok: queued as \S+", out)
        return out

    def one(self, rcpt: str) -> h.Stored:
        md = srv.maildir(rcpt)
        msgs = h.wait_messages(md, 1)
        self.assertEqual(len(msgs), 1, f"{md}: {msgs}")
        self.assertEqual(h.maildir_tmp(md), [])
        return h.read_stored(msgs[0])

    def test_basic(self):
        out = self.check_ok(swaks("--from", "swaks@localhost", "--to", "basic@localhost",
                                  "--header", "Subject: swaks basic"))
        st = self.one("basic@localhost")
        self.assertEqual(st.return_path, "swaks@localhost")
        self.assertEqual(st.r["helo"], "swaks.test")
        self.assertEqual(st.r["for"], "basic@localhost")
        self.assertEqual(st.r["with"], "ESMTP")
        self.assertIn(st.queue_id, out)
        self.assertIn(b"\nSubject: swaks basic\n", b"\n" + st.content)
        self.assertIn(b"This is a test mailing", st.content)
        self.assertNotIn(b"\r", st.content)

    def test_pipeline(self):
        out = self.check_ok(swaks("--pipeline", "--from", "swaks@localhost",
                                  "--to", "piped@localhost"))
        self.assertIn("PIPELINING", out)
        st = self.one("piped@localhost")
        self.assertIn(b"This is a test mailing", st.content)
        self.assertIn(st.queue_id, out)

    def test_multiple_recipients(self):
        out = self.check_ok(swaks("--from", "swaks@localhost", "--to",
                                  "m1@localhost,info@example.org,m2@example.org",
                                  "--header", "Subject: swaks multi"))
        contents = set()
        for r in ["m1@localhost", "alice@example.org", "bob@example.org", "m2@example.org"]:
            st = self.one(r)
            self.assertIsNone(st.r["for"])
            self.assertIn(st.queue_id, out)
            contents.add(st.content)
        self.assertEqual(len(contents), 1, "every recipient gets the same content")

    def test_data_file_8bit(self):
        content = ("From: <swaks@localhost>\nTo: <eight@localhost>\nSubject: 8-bit "
                   "caf\u00e9\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                   "Content-Transfer-Encoding: 8bit\n\nGr\u00fc\u00dfe aus K\u00f6ln, "
                   "\u20ac 5, \U0001f54a\n.dot line\n..two dots\nlast line\n").encode()
        content += bytes(range(0xa0, 0x100)) + b"\n"
        f = srv.dir / "eight.eml"
        f.write_bytes(content)
        out = self.check_ok(swaks("--from", "swaks@localhost", "--to", "eight@localhost",
                                  "--data", str(f), "--pipeline"))
        st = self.one("eight@localhost")
        self.assertIn(st.queue_id, out)
        # swaks sends the file with CRLF line ends and dot-stuffing; this swaks version adds
        # one empty line before the terminator.
        self.assertIn(st.content, (content, content + b"\n"), st.content)

    def test_rejected_recipient_reported(self):
        p = swaks("--from", "swaks@localhost", "--to", "x@relay.example")
        out = p.stdout.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertRegex(out, r"<\*\* 554 5\.7\.1", out)
        self.assertFalse((srv.mail_root / "relay.example").exists())


if __name__ == "__main__":
    h.main("swaks")

"""curl's SMTP client (libcurl) against the real binary."""

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


def curl(msg_file: Path, sender: str, rcpts: list[str], *extra: str):
    cmd = ["curl", "--silent", "--show-error", "--max-time", "20",
           f"smtp://{h.HOST}:{srv.port}/curl.test", "--mail-from", sender]
    for r in rcpts:
        cmd += ["--mail-rcpt", r]
    cmd += ["--upload-file", str(msg_file), "-v", *extra]
    return subprocess.run(cmd, capture_output=True, timeout=30)


MSG = (b"From: <curl@localhost>\r\nTo: <b@localhost>\r\nSubject: curl upload\r\n"
       b"Message-ID: <curl-1@curl.test>\r\n\r\nHello from curl.\r\n.a line with a dot\r\n"
       b".\r\nlast line\r\n")


class Curl(unittest.TestCase):
    def stored(self, rcpt: str) -> h.Stored:
        md = srv.maildir(rcpt)
        msgs = h.wait_messages(md, 1)
        self.assertEqual(len(msgs), 1, f"{md}: {msgs}")
        self.assertEqual(h.maildir_tmp(md), [])
        return h.read_stored(msgs[0])

    def check(self, p):
        err = p.stderr.decode(errors="replace")
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(err, r"< 250 2\.0\.0 Ok: queued as \S+")
        return err

    def test_upload_crlf_file(self):
        f = srv.dir / "crlf.eml"
        f.write_bytes(MSG)
        err = self.check(curl(f, "curl@localhost", ["b@localhost"]))
        st = self.stored("b@localhost")
        self.assertIn(st.queue_id, err)
        self.assertEqual(st.return_path, "curl@localhost")
        self.assertEqual(st.r["helo"], "curl.test")
        self.assertEqual(st.r["for"], "b@localhost")
        self.assertEqual(st.content, h.wire_to_stored(MSG))

    def test_upload_lf_file_with_crlf_option(self):
        f = srv.dir / "lf.eml"
        f.write_bytes(MSG.replace(b"\r\n", b"\n"))
        err = self.check(curl(f, "curl@localhost", ["c1@localhost", "c2@example.org"],
                              "--crlf"))
        for r in ("c1@localhost", "c2@example.org"):
            st = self.stored(r)
            self.assertIn(st.queue_id, err)
            self.assertIsNone(st.r["for"])
            self.assertEqual(st.content, h.wire_to_stored(MSG))

    def test_upload_lf_file_without_crlf_is_rejected(self):
        # libcurl sends the file as is: its bare LFs meet the default bare_newline = reject.
        f = srv.dir / "bare.eml"
        f.write_bytes(MSG.replace(b"\r\n", b"\n"))
        p = curl(f, "curl@localhost", ["bare@localhost"])
        err = p.stderr.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, err)
        self.assertRegex(err, r"< 550 5\.5\.2")
        self.assertFalse(srv.maildir("bare@localhost").exists())

    def test_rejected_recipient(self):
        f = srv.dir / "crlf2.eml"
        f.write_bytes(MSG)
        p = curl(f, "curl@localhost", ["x@relay.example"])
        err = p.stderr.decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, err)
        self.assertRegex(err, r"< 554 5\.7\.1")
        self.assertFalse((srv.mail_root / "relay.example").exists())


if __name__ == "__main__":
    h.main("curl")

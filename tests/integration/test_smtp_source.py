"""Postfix's smtp-source load generator against the real binary: 1000 messages, all complete."""

import subprocess
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"


class SmtpSource(unittest.TestCase):
    def setUp(self):
        self.srv = h.Taube()

    def tearDown(self):
        try:
            self.srv.stop()
        finally:
            self.srv.cleanup()

    def run_source(self, *args: str, timeout: float = 120):
        cmd = [SMTP_SOURCE, *args, f"{h.HOST}:{self.srv.port}"]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        out = (p.stdout + p.stderr).decode(errors="replace")
        self.srv.assert_alive()
        self.assertEqual(p.returncode, 0, f"{cmd}: {out}\nserver log tail:\n"
                         + "\n".join(self.srv.log[-30:]))
        return out

    def verify(self, rcpt: str, n: int, msg_len: int):
        """smtp-source -l is the whole message size (its four headers included)."""
        md = self.srv.maildir(rcpt)
        msgs = h.wait_messages(md, n, timeout=30)
        self.assertEqual(len(msgs), n, f"expected exactly {n} messages in {md}")
        self.assertEqual(len(h.maildir_messages(md)), n, "more messages than were sent")
        self.assertEqual(h.tmp_leftovers(self.srv.mail_root), [], "tmp/ must be empty")
        bodies, ids, msgids = set(), set(), set()
        for m in msgs:
            st = h.read_stored(m)
            self.assertEqual(st.return_path, "sender@localhost")
            self.assertEqual(st.r["for"], rcpt)
            head, sep, body = st.content.partition(b"\n\n")
            self.assertTrue(sep, f"{m}: no header/body separator")
            hdrs = head.split(b"\n")
            self.assertIn(b"From: <sender@localhost>", hdrs, m)
            self.assertIn(b"To: <" + rcpt.encode() + b">", hdrs, m)
            mid = [x for x in hdrs if x.lower().startswith(b"message-id:")]
            self.assertEqual(len(mid), 1, f"{m}: {hdrs}")
            msgids.add(mid[0])
            ids.add(st.queue_id)
            bodies.add(body)
        self.assertEqual(len(ids), n, "queue ids must be unique")
        self.assertEqual(len(msgids), n, "each stored message must be a different message")
        self.assertEqual(len(bodies), 1, "all bodies must be identical (none truncated)")
        body = bodies.pop()
        self.assertGreaterEqual(len(body), msg_len - 300, "body truncated")
        self.assertLessEqual(len(body), msg_len + 100, "body too long")
        self.assertTrue(body.endswith(b"\n"))
        for line in body.split(b"\n")[:-1]:
            self.assertRegex(line, rb"^[0-9]*X*$")
        return body

    def test_1000_messages_10_sessions(self):
        # One connection per message, 10 in parallel.
        self.run_source("-s", "10", "-m", "1000", "-l", "2000", "-c", "-M", "source.test",
                        "-f", "sender@localhost", "-t", "rcpt@localhost")
        self.verify("rcpt@localhost", 1000, 2000)
        # Every connection was accepted and ended cleanly: the server is still answering.
        with self.srv.client() as c:
            c.greet()
            c.expect("221", "QUIT")

    def test_many_transactions_per_session(self):
        # -d: all messages of a session over the same connection (RSET-free MAIL after 250).
        self.run_source("-d", "-s", "5", "-m", "500", "-l", "20000", "-f", "sender@localhost",
                        "-t", "keep@localhost")
        self.verify("keep@localhost", 500, 20000)


if __name__ == "__main__":
    h.main(SMTP_SOURCE)

"""A private Postfix instance relays into the real taube binary (Postfix's smtp client as peer).

Never the system Postfix, never port 25: its own config_directory and queue in a temp dir, its
smtpd on a free loopback port, relayhost = [127.0.0.1]:<taube port>.
"""

import re
import smtplib
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

N = 20


def message(i: int) -> bytes:
    lines = [f"From: <sender@pf.test>", f"To: <user{i}@example.org>",
             f"Subject: relay test {i}", f"Message-ID: <relay-{i}@client.test>",
             "Date: Mon, 01 Jan 2024 00:00:00 +0000", "MIME-Version: 1.0",
             "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit",
             "", f"Message number {i}."]
    if i % 4 == 1:
        lines += [".a dotted line", ".", "..", "after dots"]
    if i % 4 == 2:
        lines += ["8-bit: Gr\u00fc\u00dfe \u20ac \U0001f54a"]
    if i % 4 == 3:
        lines += [f"{j:04d} " + "r" * 70 for j in range(3000)]  # about 220 KB
    return ("\r\n".join(lines) + "\r\n").encode()


class PostfixRelay(unittest.TestCase):
    def setUp(self):
        self.taube = h.Taube()
        self.addCleanup(self.taube.cleanup)
        self.pf = h.PrivatePostfix(self.taube.port)
        self.addCleanup(self.pf.cleanup)
        self.pf.start()

    def diag(self) -> str:
        return (f"\n--- postfix queue:\n{self.pf.queue_listing()}\n--- postfix maillog:\n"
                f"{self.pf.maillog()[-6000:]}\n--- taube log:\n" + "\n".join(self.taube.log[-40:]))

    def test_relay_20_messages(self):
        with smtplib.SMTP(h.HOST, self.pf.port, local_hostname="client.test", timeout=30) as s:
            for i in range(N):
                refused = s.sendmail("sender@pf.test", [f"user{i}@example.org"], message(i),
                                     mail_options=["BODY=8BITMIME"])
                self.assertEqual(refused, {})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if h.count_all_messages(self.taube.mail_root) >= N:
                break
            self.taube.assert_alive()
            time.sleep(0.2)
        got = h.count_all_messages(self.taube.mail_root)
        self.assertEqual(got, N, f"{got}/{N} messages arrived in Taube" + self.diag())
        self.assertEqual(h.tmp_leftovers(self.taube.mail_root), [])
        for i in range(N):
            rcpt = f"user{i}@example.org"
            msgs = h.maildir_messages(self.taube.maildir(rcpt))
            self.assertEqual(len(msgs), 1, rcpt + self.diag())
            st = h.read_stored(msgs[0])
            # Taube's own trace header: the peer is Postfix's smtp client.
            self.assertEqual(st.r["helo"], "pf.test", st.received)
            self.assertEqual(st.r["ip"], "127.0.0.1")
            self.assertEqual(st.r["by"], h.HOSTNAME)
            self.assertEqual(st.r["with"], "ESMTP")
            self.assertEqual(st.r["for"], rcpt)
            self.assertEqual(st.return_path, "sender@pf.test")
            # Next comes Postfix's Received header, then our message, byte for byte.
            content = st.content
            self.assertTrue(content.startswith(b"Received: from client.test"), content[:300])
            m = re.match(rb"Received: [^\n]*(\n[ \t][^\n]*)*\n", content)
            pf_received = re.sub(rb"\s+", b" ", m.group(0)).decode()
            self.assertIn("by pf.test (Postfix)", pf_received)
            self.assertIn(f"for <{rcpt}>", pf_received)
            self.assertEqual(content[m.end():], h.wire_to_stored(message(i)),
                             f"message {i} changed in transit")
        # Postfix logged a successful delivery to Taube for each one.
        sent = re.findall(r"relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d.*status=sent \(250 2\.0\.0 "
                          r"Ok: queued as (\S+)\)" % self.taube.port, self.pf.maillog())
        self.assertEqual(len(sent), N, self.diag())
        self.pf.stop()
        self.taube.stop()


if __name__ == "__main__":
    h.main("postfix", "postqueue")

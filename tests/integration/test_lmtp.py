"""LMTP (RFC 2033) on a listener with protocol = "lmtp", driven by Python's smtplib.LMTP.

smtplib.LMTP greets with LHLO but reads only ONE reply after the data (bpo-32803), so the tests
read the further per-recipient replies themselves with getreply(); a NOOP afterwards shows that
client and server are still in step (no reply left over, none missing).
"""

import re
import smtplib
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ALICE = "alice@example.org"
BOB = "bob@example.org"
NOBODY = "nobody@example.org"
SENDER = "sender@client.test"
MAX_SIZE = 2000
USERS = {ALICE: "", BOB: ""}

servers: dict[str, h.Taube] = {}


def lmtp_listener() -> list[dict]:
    return [{"address": h.HOST, "port": 0, "protocol": "lmtp"}]


def setUpModule():
    servers["lmtp"] = h.Taube({"listener": lmtp_listener(), "users": USERS,
                               "limits": {"max_message_size": MAX_SIZE}})


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


def message(marker: str, size: int = 0) -> bytes:
    body = f"Subject: {marker}\r\nMessage-ID: <{marker}@client.test>\r\n\r\n{marker}\r\n"
    return body.encode() + b"x" * size + (b"\r\n" if size else b"")


REPLY_RX = re.compile(rb"^2\.0\.0 <([^>]+)> Ok: queued as (\S+)$")


class Lmtp(unittest.TestCase):
    def setUp(self):
        self.srv = servers["lmtp"]
        self.c = smtplib.LMTP(h.HOST, self.srv.port, local_hostname="client.test", timeout=15)
        self.addCleanup(self.c.close)

    def in_step(self):
        """No reply is owed or left over: a NOOP gets its own 250."""
        self.assertEqual(self.c.noop()[0], 250)

    def test_sendmail_two_users_and_an_unknown(self):
        """sendmail() reports the unknown recipient's 550; after the data there is one reply
        per accepted recipient (alice's, read by smtplib, then bob's); both are delivered."""
        refused = self.c.sendmail(SENDER, [ALICE, NOBODY, BOB], message("lmtp-sendmail"))
        self.assertEqual(list(refused), [NOBODY], refused)
        code, text = refused[NOBODY]
        self.assertEqual(code, 550)
        self.assertTrue(text.startswith(b"5.1.1"), text)
        code, text = self.c.getreply()  # bob's reply, which smtplib leaves unread
        self.assertEqual(code, 250, text)
        m = REPLY_RX.match(text)
        self.assertIsNotNone(m, text)
        self.assertEqual(m.group(1), BOB.encode())
        self.in_step()
        for rcpt in (ALICE, BOB):
            msgs = h.wait_messages(self.srv.maildir(rcpt), 1)
            hits = [p for p in msgs if b"lmtp-sendmail" in p.read_bytes()]
            self.assertEqual(len(hits), 1, f"{rcpt}: {msgs}")
            st = h.read_stored(hits[0])
            self.assertEqual(st.return_path, SENDER)
            self.assertEqual(st.r["ip"], "127.0.0.1")
            self.assertEqual(st.r["helo"], "client.test")
            self.assertEqual(st.r["with"], "LMTP")  # RFC 3848 §2
            self.assertEqual(st.queue_id, m.group(2).decode())
        self.assertFalse(self.srv.maildir(NOBODY).exists())

    def test_replies_in_rcpt_order(self):
        """RFC 2033 §4.2: the replies come in the order of the RCPTs, one per RCPT even for
        the same address twice."""
        self.assertEqual(self.c.ehlo()[0], 250)  # smtplib.LMTP sends LHLO
        self.assertEqual(self.c.mail(SENDER)[0], 250)
        for r in (BOB, ALICE, BOB):
            self.assertEqual(self.c.rcpt(r)[0], 250, r)
        replies = [self.c.data(message("lmtp-order"))]
        replies += [self.c.getreply() for _ in range(2)]
        got = [(code, REPLY_RX.match(text)) for code, text in replies]
        self.assertTrue(all(code == 250 and m for code, m in got), replies)
        self.assertEqual([m.group(1).decode() for _, m in got], [BOB, ALICE, BOB])
        self.assertEqual(len({m.group(2) for _, m in got}), 1, "one message, one queue id")
        self.in_step()

    def test_helo_and_ehlo_refused(self):
        """RFC 2033 §4.1: HELO and EHLO are not LMTP commands."""
        self.assertEqual(self.c.docmd("HELO client.test")[0], 500)
        self.assertEqual(self.c.docmd("EHLO client.test")[0], 500)
        code, text = self.c.docmd("LHLO client.test")
        self.assertEqual(code, 250)
        for ext in (b"PIPELINING", b"ENHANCEDSTATUSCODES"):  # required by RFC 2033 §5
            self.assertIn(ext, text)

    def test_refused_message_gets_a_reply_per_recipient(self):
        """A message refused as a whole at the end of data (over max_message_size) is still
        answered once per accepted recipient (RFC 2033 §4.2): a client waiting for two replies
        must get two, not hang."""
        self.assertEqual(self.c.ehlo()[0], 250)
        self.assertEqual(self.c.mail(SENDER)[0], 250)
        for r in (ALICE, BOB):
            self.assertEqual(self.c.rcpt(r)[0], 250, r)
        first = self.c.data(message("lmtp-too-big", 2 * MAX_SIZE))
        second = self.c.getreply()
        for (code, text), rcpt in zip((first, second), (ALICE, BOB)):
            self.assertEqual(code, 552, text)
            self.assertTrue(text.startswith(b"5.3.4 <" + rcpt.encode() + b">"), text)
        self.in_step()


def check_config(text: str) -> tuple[subprocess.CompletedProcess, str]:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "lmtp.toml"
        f.write_text(text)
        p = subprocess.run([h.taube_bin(), "check-config", str(f)], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
    return p, (p.stdout + p.stderr).decode(errors="replace")


LISTENER_CONFIG = """\
hostname = "mx.test"

[[listener]]
address = "127.0.0.1"
port = {port}
protocol = "{protocol}"

[delivery]
domains = ["example.org"]
"""


class CheckConfig(unittest.TestCase):
    def test_port_25_refused(self):
        """RFC 2033 §1: LMTP MUST NOT be used on TCP port 25; the message names the key and
        its line."""
        text = LISTENER_CONFIG.format(port=25, protocol="lmtp")
        line = text.splitlines().index('protocol = "lmtp"') + 1
        p, out = check_config(text)
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("listener.protocol", out)
        self.assertRegex(out, rf":{line}: listener\.protocol\b")
        self.assertIn("port 25", out)

    def test_other_port_and_smtp_on_25_accepted(self):
        for port, protocol in ((2424, "lmtp"), (25, "smtp")):
            with self.subTest(port=port, protocol=protocol):
                p, out = check_config(LISTENER_CONFIG.format(port=port, protocol=protocol))
                self.assertEqual(p.returncode, 0, out)

    def test_unknown_protocol_refused(self):
        p, out = check_config(LISTENER_CONFIG.format(port=2424, protocol="esmtp"))
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("listener.protocol", out)


if __name__ == "__main__":
    h.main()

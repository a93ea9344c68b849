"""The outbound tests' destination server (taubetest/smtp_peer.py) checked with Python's smtplib:
what it records, what it advertises and refuses, and each scripted fault. Needs no taube."""

import smtplib
import socket
import ssl
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port, make_cert  # noqa: E402

ALL = ["PIPELINING", "8BITMIME", "SMTPUTF8", "DSN", "SIZE 100000", "CHUNKING",
       "ENHANCEDSTATUSCODES"]


def client(peer: SmtpPeer) -> smtplib.SMTP:
    return smtplib.SMTP(peer.host, peer.port, local_hostname="client.test", timeout=10)


class Record(unittest.TestCase):
    def test_envelope_content_and_params(self):
        with SmtpPeer(extensions=ALL) as peer:
            body = b"Subject: x\r\n\r\n.leading dot\r\n..two\r\n8bit \xc3\xa4\r\n"
            with client(peer) as c:
                c.ehlo()
                self.assertEqual(c.mail("a@src.test", ["BODY=8BITMIME", "ENVID=e+2B1",
                                                      "RET=HDRS", "SIZE=99"])[0], 250)
                self.assertEqual(c.rcpt("b@dst.test", ["NOTIFY=SUCCESS,FAILURE",
                                                      "ORCPT=rfc822;b@dst.test"])[0], 250)
                self.assertEqual(c.rcpt("c@dst.test")[0], 250)
                self.assertEqual(c.data(body)[0], 250)
                self.assertEqual(c.sendmail("d@src.test", ["e@dst.test"], b"second\r\n"), {})
            [m1, m2] = peer.wait_for(2, 5)
            self.assertEqual(m1.session.ehlo, "client.test")
            self.assertEqual(m1.mail_from, "a@src.test")
            self.assertEqual(m1.mail_params, {"BODY": "8BITMIME", "ENVID": "e+2B1",
                                              "RET": "HDRS", "SIZE": "99"})
            self.assertEqual(m1.rcpt_addrs(), ["b@dst.test", "c@dst.test"])
            self.assertEqual(m1.rcpt_params("b@dst.test"),
                             {"NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;b@dst.test"})
            self.assertEqual(m1.data, body)  # smtplib stuffed the dots; the peer unstuffed
            self.assertEqual(m1.via, "DATA")
            self.assertFalse(m1.session.tls)
            self.assertIs(m1.session, m2.session)
            self.assertEqual(m2.data, b"second\r\n")
            self.assertTrue(peer.wait(lambda p: p.sessions()[0].quit, 5))
            self.assertEqual(peer.sessions()[0].messages, 2)
            self.assertEqual(peer.max_concurrency, 1)

    def test_bdat(self):
        with SmtpPeer(extensions=ALL) as peer:
            with client(peer) as c:
                c.ehlo()
                c.mail("a@src.test")
                c.rcpt("b@dst.test")
                c.send(b"BDAT 5\r\nhello")
                self.assertEqual(c.getreply()[0], 250)
                c.send(b"BDAT 3 LAST\r\n.\r\n")
                self.assertEqual(c.getreply()[0], 250)
            [m] = peer.wait_for(1, 5)
            self.assertEqual((m.data, m.via), (b"hello.\r\n", "BDAT"))

    def test_unadvertised_params_refused(self):
        with SmtpPeer(extensions=["PIPELINING", "SIZE 50"]) as peer, client(peer) as c:
            c.ehlo()
            self.assertEqual(c.docmd("MAIL FROM:<a@src.test> SMTPUTF8")[0], 555)
            self.assertEqual(c.docmd("MAIL FROM:<a@src.test> BODY=8BITMIME")[0], 555)
            c.send("MAIL FROM:<\u00e4@src.test>\r\n".encode())
            self.assertEqual(c.getreply()[0], 553)
            self.assertEqual(c.mail("a@src.test", ["SIZE=51"])[0], 552)
            self.assertEqual(c.mail("a@src.test", ["SIZE=50"])[0], 250)
            self.assertEqual(c.docmd("RCPT TO:<b@dst.test> NOTIFY=NEVER")[0], 555)
            self.assertEqual(c.rcpt("b@dst.test")[0], 250)
            self.assertEqual(c.data(b"x" * 60 + b"\r\n")[0], 552)
            self.assertEqual(peer.messages(), [])
            self.assertEqual(peer.errors, [])
            self.assertEqual(peer.transactions()[0].data, b"x" * 60 + b"\r\n")

    def test_pipelining_without_the_extension_recorded(self):
        with SmtpPeer(extensions=["8BITMIME"]) as peer, client(peer) as c:
            c.ehlo()
            c.send(b"MAIL FROM:<a@src.test>\r\nRCPT TO:<b@dst.test>\r\n")
            self.assertEqual(c.getreply()[0], 250)
            self.assertEqual(c.getreply()[0], 250)
            self.assertEqual(c.noop()[0], 250)
            self.assertEqual(peer.sessions()[0].pipelined, ["MAIL"])

    def test_concurrency(self):
        with SmtpPeer() as peer:
            cs = [client(peer) for _ in range(3)]
            self.assertTrue(peer.wait(lambda p: len(p.sessions()) == 3, 5))
            for c in cs:
                c.quit()
            self.assertTrue(peer.wait(lambda p: all(s.closed for s in p.sessions()), 5))
            self.assertEqual(peer.max_concurrency, 3)


class Faults(unittest.TestCase):
    def test_rcpt_predicate_counts_per_address(self):
        with SmtpPeer(rcpt=lambda addr, n: "451 4.7.1 greylisted" if n == 1 else None) as peer:
            for expect in ({"b@dst.test": (451, b"4.7.1 greylisted")}, {}):
                with client(peer) as c:
                    try:
                        got = c.sendmail("a@src.test", ["b@dst.test"], b"x\r\n")
                    except smtplib.SMTPRecipientsRefused as e:
                        got = e.recipients
                self.assertEqual(got, expect)
            self.assertEqual(len(peer.wait_for(1, 5)), 1)
            self.assertEqual([r.reply[:3] for t in peer.transactions() for r in t.rcpts],
                             ["451", "250"])

    def test_greeting_421_and_554(self):
        with SmtpPeer(greeting=lambda n: "421 4.3.2 busy" if n == 1 else "554 5.7.1 go away") \
                as peer:
            with self.assertRaises(smtplib.SMTPConnectError):
                client(peer)
            with self.assertRaises(smtplib.SMTPConnectError):
                client(peer)
            self.assertEqual(len(peer.sessions()), 2)

    def test_disconnect_and_data_reply_and_delay(self):
        with SmtpPeer(disconnect=lambda verb, s: verb == "RCPT" and s.number == 1,
                      data=lambda t: "452 4.3.1 full", delay={"DOT": 0.3}) as peer:
            with client(peer) as c:
                c.ehlo()
                c.mail("a@src.test")
                with self.assertRaises(smtplib.SMTPServerDisconnected):
                    c.rcpt("b@dst.test")
            with client(peer) as c:
                c.ehlo()
                c.mail("a@src.test")
                c.rcpt("b@dst.test")
                self.assertEqual(c.data(b"x\r\n")[0], 452)
            self.assertEqual(peer.messages(), [])
            self.assertEqual(peer.transactions()[-1].data_reply, "452 4.3.1 full")


class TlsAndAuth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        h.require("openssl")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert = make_cert(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_starttls_and_auth(self):
        ctx = ssl.create_default_context(cafile=self.cert[0])
        ctx.check_hostname = False
        with SmtpPeer(tls=self.cert, auth=("user", "pw"), auth_required=True) as peer:
            with client(peer) as c:
                c.ehlo()
                self.assertTrue(c.has_extn("starttls"))
                c.starttls(context=ctx)
                c.ehlo()
                self.assertFalse(c.has_extn("starttls"))
                self.assertEqual(c.mail("a@src.test")[0], 530)
                c.rset()
                c.login("user", "pw")
                self.assertEqual(c.sendmail("a@src.test", ["b@dst.test"], b"x\r\n"), {})
            [m] = peer.wait_for(1, 5)
            self.assertTrue(m.session.tls)
            self.assertRegex(m.session.tls_version, r"^TLSv1\.[23]$")
            self.assertIn(("user", "pw", True), [a[1:] for a in m.session.auth])

    def test_tls_fault_garbage(self):
        with SmtpPeer(tls=self.cert, tls_fault="garbage") as peer, client(peer) as c:
            c.ehlo()
            with self.assertRaises((ssl.SSLError, OSError, smtplib.SMTPServerDisconnected)):
                c.starttls(context=ssl._create_unverified_context())

    def test_stop_and_restart_on_a_fixed_port(self):
        port = free_port("127.0.0.2")
        peer = SmtpPeer(port=port)
        peer.stop()
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.2", port), timeout=2).close()
        peer.start()
        try:
            with client(peer) as c:
                self.assertEqual(c.noop()[0], 250)
        finally:
            peer.stop()


if __name__ == "__main__":
    h.main("openssl")

"""Forwarding and ETRN. An alias may point to another domain: the recipient is accepted (251 for
a single remote target, RFC 5321 §3.4) even from a client that may not relay, and the copy goes
through the outbound queue. ETRN (RFC 1985) for a domain makes its deferred mail leave now
instead of at its retry time."""

import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp import RawClient  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402


class Forwarding(unittest.TestCase):
    def setUp(self):
        self.peer = SmtpPeer(host="127.0.0.2", port=0)
        self.addCleanup(self.peer.stop)
        # No relay networks: only the aliases may send mail off-site.
        self.srv = o.start({o.REMOTE: o.route(self.peer)}, relay={"networks": []},
                           extra={"aliases": {"fwd@example.org": [BOB],
                                              "team@example.org": ["alice@example.org",
                                                                   "carol@remote.test"]}})
        self.addCleanup(self.srv.cleanup)

    def test_alias_to_a_remote_address(self):
        with RawClient(h.HOST, self.srv.port, 15) as c:
            c.greet()
            c.expect("250", "MAIL FROM:<someone@outside.test>")
            r = c.expect("251", "RCPT TO:<fwd@example.org>")
            self.assertIn(BOB, r.text)
            # Relaying proper is still refused to this client.
            c.expect("554", f"RCPT TO:<{BOB}>")
            c.expect("354", "DATA")
            c.send(o.message("fwd-1", to="fwd@example.org") + b".\r\n")
            c.expect("250")
            c.cmd("QUIT")
        got = self.peer.wait_for(1, 10)
        self.assertEqual(len(got), 1, o.diag(self.srv, self.peer))
        self.assertEqual(got[0].rcpt_addrs(), [BOB])
        self.assertEqual(got[0].mail_from, "someone@outside.test")
        self.assertIn(b"marker fwd-1", got[0].data)
        m = self.srv.wait_log(r"to=<bob@remote\.test>, orig_to=<fwd@example\.org>, .*status=sent", 5)
        self.assertIsNotNone(m, o.diag(self.srv, self.peer))

    def test_alias_with_local_and_remote_targets(self):
        o.submit(self.srv, ALICE, ["team@example.org"], o.message("fwd-2", to="team@example.org"))
        got = self.peer.wait_for(1, 10)
        self.assertEqual(len(got), 1, o.diag(self.srv, self.peer))
        self.assertEqual(got[0].rcpt_addrs(), ["carol@remote.test"])
        local = [p for p in o.all_mail(self.srv) if b"marker fwd-2" in p.read_bytes()]
        self.assertEqual(len(local), 1, o.diag(self.srv, self.peer))


class Etrn(unittest.TestCase):
    def test_etrn_sends_deferred_mail_now(self):
        port = free_port("127.0.0.2")
        # Retries an hour apart: only ETRN can bring the message out within the test.
        srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"},
                      queue={"retry_min": 3600, "retry_max": 3600},
                      extra={"smtp": {"etrn": True}})
        self.addCleanup(srv.cleanup)
        qid = o.submit(srv, ALICE, [BOB], o.message("etrn-1"))
        self.assertIsNotNone(srv.wait_log(o.status_rx(BOB, "deferred", qid), 10), o.diag(srv))
        peer = SmtpPeer(host="127.0.0.2", port=port)
        self.addCleanup(peer.stop)
        time.sleep(0.5)
        self.assertEqual(peer.messages(), [])  # not before the ETRN
        with RawClient(h.HOST, srv.port, 15) as c:
            c.greet()
            r = c.expect("250", "ETRN remote.test")
            self.assertIn("remote.test", r.text)
            c.expect("251", "ETRN nothing-here.test")
            c.cmd("QUIT")
        self.assertEqual(len(peer.wait_for(1, 10)), 1, o.diag(srv, peer))


if __name__ == "__main__":
    h.main()

"""What the outbound client does with what a peer offers or limits: SMTPUTF8 passed on to a peer
that has it (RFC 6531 §3.4), 8-bit content never sent as such to a peer without 8BITMIME (RFC
6152 §3: convert or bounce), a 452 for too many recipients answered by another transaction
(RFC 5321 §4.5.3.1.10), and recipients of two destinations each at their own peer."""

import re
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer  # noqa: E402


class Base(unittest.TestCase):
    def start(self, *peers: SmtpPeer, routes: dict | None = None):
        for p in peers:
            self.addCleanup(p.stop)
        self.peers = peers
        self.srv = o.start(routes or {o.REMOTE: o.route(peers[0])})
        o.guard(self, self.srv)

    def diag(self) -> str:
        return "".join(o.diag(self.srv, p) for p in self.peers)


class Smtputf8(Base):
    def test_passed_on_to_a_peer_with_smtputf8(self):
        peer = SmtpPeer(extensions=["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"])
        self.start(peer)
        rcpt = "j\u00f6rg@remote.test"
        msg = o.message("peer-utf8", subject="Gr\u00fc\u00dfe \u20ac", to=rcpt)
        o.submit(self.srv, "s\u00e9nder@client.test", [rcpt], msg,
                 mail_params="SMTPUTF8 BODY=8BITMIME")
        [m] = peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.mail_from, "s\u00e9nder@client.test")
        self.assertIn("SMTPUTF8", m.mail_params)
        self.assertEqual(m.rcpt_addrs(), [rcpt])
        self.assertEqual(o.split_received(m.data)[1], msg)


class EightBit(Base):
    def test_8bit_to_a_peer_without_8bitmime(self):
        """Either converted to 7 bit (and delivered without BODY=8BITMIME) or bounced with
        5.6.3; never 8-bit octets to a peer that did not offer 8BITMIME."""
        peer = SmtpPeer(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])
        self.start(peer)
        msg = o.message("peer-8bit", headers=["MIME-Version: 1.0",
                                               "Content-Type: text/plain; charset=utf-8",
                                               "Content-Transfer-Encoding: 8bit"],
                        body="Gr\u00fc\u00dfe \u20ac\r\n".encode())
        o.submit(self.srv, ALICE, [BOB], msg, mail_params="BODY=8BITMIME")
        deadline = time.monotonic() + 15
        while not (peer.messages() or o.dsns(self.srv, ALICE)) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertTrue(peer.messages() or o.dsns(self.srv, ALICE),
                        "neither delivered nor bounced" + self.diag())
        for m in peer.messages():
            self.assertNotIn("BODY", m.mail_params, m.mail_params)
            self.assertTrue(m.data.isascii(), "8-bit octets sent to a 7-bit peer")
            self.assertIn(b"marker peer-8bit", m.data)
        if not peer.messages():
            [d] = o.wait_dsns(self.srv, ALICE, 1, 5)
            self.assertEqual(d.recipient(BOB).get("status"), "5.6.3", d)
        # Nothing sent 8-bit on the wire at all (a refused transaction also counts).
        for t in peer.transactions():
            self.assertTrue((t.data or b"").isascii(), "8-bit octets sent to a 7-bit peer")


class NoPipelining(Base):
    def test_one_command_at_a_time_without_pipelining(self):
        """RFC 2920 §3.1: to a peer without PIPELINING each command waits for its reply."""
        peer = SmtpPeer(extensions=["8BITMIME", "ENHANCEDSTATUSCODES"])
        self.start(peer)
        o.submit(self.srv, ALICE, [BOB, "carol@remote.test"], o.message("peer-nopipe"))
        [m] = peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual([s.pipelined for s in peer.sessions()], [[]], self.diag())


class Size(Base):
    def test_size_declared_to_a_peer_with_size(self):
        """RFC 1870 §6: the client declares the message size in MAIL when SIZE is offered."""
        peer = SmtpPeer(extensions=["PIPELINING", "8BITMIME", "SIZE 1000000"])
        self.start(peer)
        o.submit(self.srv, ALICE, [BOB], o.message("peer-size", body=b"s" * 5000 + b"\r\n"))
        [m] = peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertIn("SIZE", m.mail_params, m.mail_params)
        self.assertGreaterEqual(int(m.mail_params["SIZE"]), len(m.data) - 200, m.mail_params)


class LostQuit(Base):
    def test_no_second_copy_when_the_peer_drops_after_the_250(self):
        """The peer's 250 to the data is the hand-over (RFC 5321 §6.1); the connection closing
        at QUIT afterwards changes nothing: no retry, no second copy."""
        peer = SmtpPeer(disconnect=lambda verb, s: verb in ("QUIT", "RSET", "NOOP"))
        self.start(peer)
        qid = o.submit(self.srv, ALICE, [BOB], o.message("peer-lostquit"))
        self.assertEqual(len(peer.wait_for(1, 10)), 1, self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"peer-lostquit"), [], self.diag())
        self.assertEqual(len(peer.messages()), 1)
        self.assertIsNone(self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 0))


class TooManyRecipients(Base):
    LIMIT = 2

    def test_452_then_the_rest_in_another_transaction(self):
        peer = SmtpPeer()

        def rcpt(addr, n):
            t = peer.transactions()[-1]
            if len(t.rcpt_addrs()) >= self.LIMIT:
                return "452 4.5.3 Too many recipients"
            return None
        peer.on_rcpt = rcpt
        self.start(peer)
        rcpts = [f"user{i}@remote.test" for i in range(5)]
        qid = o.submit(self.srv, ALICE, rcpts, o.message("peer-452"))
        self.assertTrue(peer.wait(lambda p: sum(len(m.rcpt_addrs()) for m in p.messages()) >= 5,
                                  20), self.diag())
        got = sorted(a for m in peer.messages() for a in m.rcpt_addrs())
        self.assertEqual(got, rcpts, "each recipient exactly once")
        self.assertTrue(all(len(m.rcpt_addrs()) <= self.LIMIT for m in peer.messages()))
        for r in rcpts:
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(r, "sent", qid), 5), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"peer-452"), [], self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [], "a 452 is not a failure")


class TwoDestinations(Base):
    def test_each_recipient_at_its_own_peer(self):
        a, b = SmtpPeer(host="127.0.0.2"), SmtpPeer(host="127.0.0.3")
        self.start(a, b, routes={"remote.test": o.route(a), "other.test": o.route(b)})
        qid = o.submit(self.srv, ALICE, [BOB, "dave@other.test"], o.message("peer-two"))
        [ma] = a.wait_for(1, 10) or [None]
        [mb] = b.wait_for(1, 10) or [None]
        self.assertIsNotNone(ma, self.diag())
        self.assertIsNotNone(mb, self.diag())
        self.assertEqual(ma.rcpt_addrs(), [BOB])
        self.assertEqual(mb.rcpt_addrs(), ["dave@other.test"])
        for r, p in ((BOB, a), ("dave@other.test", b)):
            m = self.srv.wait_log(o.status_rx(r, "sent", qid), 5)
            self.assertIsNotNone(m, self.diag())
            self.assertEqual(m.group("relay"), f"{p.host}[{p.host}]:{p.port}")
        self.assertTrue(re.search(rb"marker peer-two", ma.data) and
                        re.search(rb"marker peer-two", mb.data))


if __name__ == "__main__":
    h.main()

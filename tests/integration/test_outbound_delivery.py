"""Outbound delivery seen from outside: mail relayed by a client in [relay] networks to a remote
domain leaves Taube's queue by SMTP and arrives at a recording SmtpPeer (RFC 5321 §3.6, §4.1.1):
fast (event-driven, no polling interval), with the same envelope, the content intact plus one
Received: header on top (§4.4), retried after a 4xx, over few connections when many messages
wait for one destination, and logged per recipient in Postfix's shape."""

import re
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB, CAROL  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

# Tricky content: lines that need dot-stuffing on the way out (RFC 5321 §4.5.2), 8-bit text
# (RFC 6152), a long line, an empty line at the end.
BODY = ("\r\n".join([".leading dot", "..two dots", ".", " . ", "Gr\u00fc\u00dfe \u20ac 8bit",
                     "x" * 900, "last", ""]) + "\r\n").encode()


class Base(unittest.TestCase):
    peer_kw: dict = {}
    taube_kw: dict = {}

    def setUp(self):
        self.peer = SmtpPeer(**self.peer_kw)
        self.addCleanup(self.peer.stop)
        self.srv = o.start({o.REMOTE: o.route(self.peer)}, **self.taube_kw)
        o.guard(self, self.srv)

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def assert_once(self, marker: str, n_peer: int = 1):
        """The message left the queue and the peer holds exactly n_peer copies of it."""
        left = o.wait_queue_clear(self.srv, marker.encode())
        self.assertEqual(left, [], "message still queued after delivery" + self.diag())
        hits = [m for m in self.peer.messages() if marker.encode() in (m.data or b"")]
        self.assertEqual(len(hits), n_peer, self.diag())
        return hits


class Delivery(Base):
    peer_kw = {"extensions": ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"]}

    def test_relayed_message_arrives_fast_and_intact(self):
        msg = o.message("out-basic", body=BODY)
        t0 = time.monotonic()
        qid = o.submit(self.srv, "sender@client.test", [BOB], msg, mail_params="BODY=8BITMIME")
        got = self.peer.wait_for(1, 3.0)
        elapsed = time.monotonic() - t0
        self.assertEqual(len(got), 1, f"not at the peer {elapsed:.1f}s after the 250 (the "
                                      f"queue must start delivery at once)" + self.diag())
        m = got[0]
        self.assertEqual(m.mail_from, "sender@client.test")
        self.assertEqual(m.rcpt_addrs(), [BOB])
        self.assertEqual(m.mail_params.get("BODY"), "8BITMIME", m.mail_params)
        self.assertEqual(m.session.helo_verb, "EHLO")
        self.assertEqual(m.session.ehlo, h.HOSTNAME)  # helo_name empty: the hostname
        received, rest = o.split_received(m.data)
        self.assertEqual(rest, msg, "content changed in transit")
        self.assertIn(f"by {h.HOSTNAME} (Taube)", received)
        self.assertIn("[127.0.0.1]", received)
        self.assertIn(qid, received)
        self.assertEqual(self.peer.errors, [])
        self.assert_once("out-basic")

    def test_log_line_per_recipient(self):
        qid = o.submit(self.srv, "sender@client.test", [BOB], o.message("out-log"))
        m = self.srv.wait_log(o.status_rx(BOB, "sent", qid), 10)
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.group("relay"), f"127.0.0.2[127.0.0.2]:{self.peer.port}")
        self.assertEqual(m.group("dsn"), "2.0.0")
        self.assertTrue(m.group("text").startswith("250 2.0.0 Ok: queued as P"), m.group(0))
        delays = [float(x) for x in m.group("delays").split("/")]
        self.assertLessEqual(sum(delays), float(m.group("delay")) + 0.05, m.group(0))

    def test_two_recipients_one_transaction(self):
        """Recipients at the same destination go in one transaction (one copy of the data)."""
        o.submit(self.srv, "sender@client.test", [BOB, CAROL], o.message("out-two"))
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(sorted(m.rcpt_addrs()), [BOB, CAROL])
        self.assert_once("out-two")

    def test_local_and_remote_recipient(self):
        o.submit(self.srv, "sender@client.test", [ALICE, BOB], o.message("out-mixed"))
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.rcpt_addrs(), [BOB], "the local recipient must not go out")
        local = h.wait_messages(self.srv.maildir(ALICE), 1)
        self.assertEqual(len(local), 1, self.diag())
        st = h.read_stored(local[0])
        self.assertIn(b"marker out-mixed", st.content)
        self.assertEqual(st.return_path, "sender@client.test")
        self.assert_once("out-mixed")

    def test_loop_refused(self):
        """RFC 5321 §6.3: 51 Received: headers is a loop: 554 5.4.6, nothing goes out."""
        hops = [f"Received: from hop{i}.test by hop{i + 1}.test; Mon, 1 Jan 2024 00:00:00 +0000"
                for i in range(51)]
        body = "\r\n".join(hops).encode() + b"\r\n" + o.message("out-loop")
        with self.srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<sender@client.test>")
            c.expect("250", f"RCPT TO:<{BOB}>")
            c.expect("354", "DATA")
            c.send(h.dot_stuff(body) + b".\r\n")
            r = c.reply()
            self.assertEqual(r.code, 554, r)
            self.assertTrue(r.last.startswith("554 5.4.6"), r)
        self.assertEqual(o.queue_holding(self.srv, b"out-loop"), [])
        time.sleep(0.5)  # a wrongly queued copy would be at the peer by now (see the 3 s above)
        self.assertEqual(self.peer.messages(), [])


class Chunking(Base):
    """A peer with CHUNKING (RFC 3030): DATA or BDAT, the content arrives the same."""
    peer_kw = {"extensions": ["PIPELINING", "8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES"]}

    def test_content_intact(self):
        msg = o.message("out-chunk", body=BODY * 50)
        o.submit(self.srv, "sender@client.test", [BOB], msg, mail_params="BODY=8BITMIME")
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertIn(m.via, ("DATA", "BDAT"))
        self.assertEqual(o.split_received(m.data)[1], msg)


class SlowPeer(Base):
    """A peer that takes its time (2 s before the greeting and the end-of-data reply) is
    waited for (RFC 5321 §4.5.3.2: the client's timeouts are minutes), not given up on."""
    peer_kw = {"delay": {"GREETING": 2.0, "DOT": 2.0}}

    def test_slow_replies(self):
        qid = o.submit(self.srv, "sender@client.test", [BOB], o.message("out-slow"))
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        self.assertEqual(len(self.peer.sessions()), 1, "gave up on a slow peer" + self.diag())
        self.assert_once("out-slow")


class NotARelay(Base):
    """A client outside [relay] networks may not relay (RFC 5321 §3.6.2): the queue must not
    turn Taube into an open relay."""
    taube_kw = {"relay": {"networks": ["127.0.0.9/32"]}}

    def test_outside_client_refused(self):
        with self.srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<sender@client.test>")
            r = c.cmd(f"RCPT TO:<{BOB}>")
            self.assertTrue(r.code in (550, 551, 553, 554) and " 5.7." in r.last, r)
        self.assertEqual(self.peer.sessions(), [])
        self.assertEqual(o.queue_left(self.srv), [])

    def test_inside_client_from_its_own_address(self):
        o.submit(self.srv, "sender@client.test", [BOB], o.message("out-src"),
                 source="127.0.0.9")
        self.assertEqual(len(self.peer.wait_for(1, 10)), 1, self.diag())


class HeloName(Base):
    taube_kw = {"outbound": {"helo_name": "out.example.net"}}

    def test_helo_name(self):
        o.submit(self.srv, "sender@client.test", [BOB], o.message("out-helo"))
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.session.ehlo, "out.example.net")


class Smarthost(unittest.TestCase):
    def test_smarthost_without_transport(self):
        with SmtpPeer() as peer:
            srv = o.start(None, relay={"smarthost": f"127.0.0.2:{peer.port}",
                                       "smarthost_tls": "none"})
            o.guard(self, srv)
            o.submit(srv, "sender@client.test", ["someone@far.example"],
                     o.message("out-smart", to="someone@far.example"))
            [m] = peer.wait_for(1, 10) or [None]
            self.assertIsNotNone(m, o.diag(srv, peer))
            self.assertEqual(m.rcpt_addrs(), ["someone@far.example"])
            self.assertIsNotNone(srv.wait_log(o.status_rx("someone@far.example", "sent"), 5),
                                 o.diag(srv, peer))


class Retry(Base):
    """A 4xx is retried after retry_min (1 s); the message arrives exactly once."""

    def test_rcpt_451_then_250(self):
        self.peer.on_rcpt = lambda addr, n: "451 4.7.1 greylisted" if n == 1 else None
        qid = o.submit(self.srv, "sender@client.test", [BOB], o.message("out-grey"))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 10),
                             self.diag())
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        deferred = self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 0)
        self.assertIn("451 4.7.1 greylisted", deferred.group("text"))
        self.assert_once("out-grey")
        self.assertEqual(o.queue_left(self.srv, ()), [], "files left in the queue directory")

    def test_end_of_data_451_then_250(self):
        calls = []

        def data(t):
            calls.append(1)
            return "451 4.3.0 try again later" if len(calls) == 1 else None
        self.peer.on_data = data
        qid = o.submit(self.srv, "sender@client.test", [BOB, CAROL], o.message("out-eod"))
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        for r in (BOB, CAROL):
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(r, "sent", qid), 5), self.diag())
        [m] = self.assert_once("out-eod")
        self.assertEqual(sorted(m.rcpt_addrs()), [BOB, CAROL])
        self.assertEqual(len(calls), 2)

    def test_disconnect_after_mail_then_delivered(self):
        self.peer.disconnect = lambda verb, s: verb == "MAIL" and s.number == 1
        o.submit(self.srv, "sender@client.test", [BOB], o.message("out-drop"))
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assert_once("out-drop")

    def test_greeting_421_then_delivered(self):
        self.peer.greeting = lambda n: "421 4.3.2 busy, come back later" if n == 1 else None
        o.submit(self.srv, "sender@client.test", [BOB], o.message("out-421"))
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assert_once("out-421")


class Reuse(unittest.TestCase):
    """Ten messages wait for a destination that is down; when it comes up they all arrive,
    over fewer than ten connections, never more than per_destination at once."""

    N, PER_DEST = 10, 2

    def test_queued_while_down_then_delivered_over_few_connections(self):
        port = free_port("127.0.0.2")
        srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"},
                      queue={"per_destination": self.PER_DEST, "max_connections": 10})
        o.guard(self, srv)
        qids = [o.submit(srv, "sender@client.test", [BOB], o.message(f"out-reuse-{i}"))
                for i in range(self.N)]
        # All ten accepted; the destination was tried and found down before it comes up (a
        # runner may hold the other nine back without trying each: one deferral is enough).
        self.assertEqual(len(set(qids)), self.N)
        self.assertIsNotNone(srv.wait_log(o.status_rx(BOB, "deferred"), 10), o.diag(srv))
        peer = SmtpPeer(port=port)
        self.addCleanup(peer.stop)
        got = peer.wait_for(self.N, 30)
        self.assertEqual(len(got), self.N, o.diag(srv, peer))
        for i in range(self.N):
            self.assertEqual(o.wait_queue_clear(srv, f"out-reuse-{i}".encode()), [],
                             o.diag(srv, peer))
        markers = sorted(re.search(rb"marker (out-reuse-\d+)", m.data).group(1)
                         for m in peer.messages())
        self.assertEqual(markers, sorted(f"out-reuse-{i}".encode() for i in range(self.N)),
                         "each message exactly once")
        used = [s for s in peer.sessions() if s.messages]
        self.assertLess(len(used), self.N, "no connection carried two messages" +
                        o.diag(srv, peer))
        self.assertLessEqual(peer.max_concurrency, self.PER_DEST)


class PerDestination(unittest.TestCase):
    """A slow peer (1 s per end of data) and eight messages: never more than per_destination
    connections to it at once."""

    def test_limit(self):
        peer = SmtpPeer(delay={"DOT": 1.0})
        self.addCleanup(peer.stop)
        srv = o.start({o.REMOTE: o.route(peer)}, queue={"per_destination": 3})
        o.guard(self, srv)
        for i in range(8):
            o.submit(srv, "sender@client.test", [BOB], o.message(f"out-limit-{i}"))
        self.assertEqual(len(peer.wait_for(8, 30)), 8, o.diag(srv, peer))
        self.assertLessEqual(peer.max_concurrency, 3, o.diag(srv, peer))


if __name__ == "__main__":
    h.main()

"""The outbound queue is durable: a 250 means the message survives kill -9 and is delivered
exactly once after the restart (RFC 5321 §4.1.1.4, §6.1: the receiver takes responsibility),
also after a clean stop; a corrupt queue item is moved aside to <queue>/corrupt/ with a log line
and does not stop the valid messages next to it."""

import sys
import re
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402


class Durable(unittest.TestCase):
    """The destination is down (its port closed) while taube queues and dies; it comes up
    after the restart."""

    def setUp(self):
        self.peer_port = free_port("127.0.0.2")
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{self.peer_port}"}, port=h.free_port())
        o.guard(self, self.srv)
        self.peer = None

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def queue_and_defer(self, marker: str) -> str:
        qid = o.submit(self.srv, ALICE, [BOB], o.message(marker))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 10),
                             self.diag())
        self.assertTrue(o.wait_queue_holding(self.srv, marker.encode()), self.diag())
        return qid

    def peer_up(self) -> SmtpPeer:
        self.peer = SmtpPeer(port=self.peer_port)
        self.addCleanup(self.peer.stop)
        return self.peer

    def assert_delivered_once(self, marker: str, qid: str):
        got = self.peer.wait_for(1, 20)
        self.assertEqual(len(got), 1, self.diag())
        self.assertIn(f"marker {marker}".encode(), got[0].data)
        self.assertEqual(o.wait_queue_clear(self.srv, marker.encode()), [], self.diag())
        self.assertEqual(len(self.peer.messages()), 1, "delivered twice" + self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [])

    def test_kill9_then_restart(self):
        qid = self.queue_and_defer("q-kill9")
        self.assertEqual(self.srv.kill9(), -9)
        self.peer_up()
        self.srv.restart()
        self.assert_delivered_once("q-kill9", qid)
        self.srv.stop()

    def test_kill9_right_after_the_250(self):
        """No attempt logged yet: the 250 alone must have made it durable."""
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-kill9-early"))
        self.srv.kill9()
        self.peer_up()
        self.srv.restart()
        self.assert_delivered_once("q-kill9-early", qid)

    def test_clean_stop_then_restart(self):
        qid = self.queue_and_defer("q-stop")
        self.srv.stop()
        self.assertTrue(o.queue_holding(self.srv, b"q-stop"), "a stop emptied the queue")
        self.peer_up()
        self.srv.restart()
        self.assert_delivered_once("q-stop", qid)

    def test_kill9_while_the_peer_holds_the_end_of_data(self):
        """Killed after the data went out and before the peer's 250 reached taube: taube cannot
        know the peer took it, so it sends it again after the restart (RFC 5321 §6.1: a
        duplicate, never a loss)."""
        entered, release = threading.Event(), threading.Event()

        def data(t):
            if t.session.number == 1:
                entered.set()
                release.wait(10)
            return None
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-inflight"))
        self.peer_up().on_data = data
        self.assertTrue(entered.wait(15), "no delivery attempt reached the end of data" +
                        self.diag())
        self.srv.kill9()
        release.set()
        self.srv.restart()
        self.assertTrue(self.peer.wait(lambda p: len(p.messages()) >= 2, 20),
                        "not sent again after the restart" + self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"q-inflight"), [], self.diag())
        self.assertEqual(len(self.peer.messages()), 2, self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        # The in-flight mark (queue/inflight.hpp) names the known possible duplicate.
        dup = self.srv.wait_log(re.escape(qid) + r": warning: possible duplicate: to=<" +
                                re.escape(BOB) + r">, relay=(\S+): Taube stopped after the "
                                r"message was sent", 5)
        self.assertIsNotNone(dup, "the duplicate was not announced" + self.diag())
        self.assertIn(f":{self.peer.port}", dup.group(1))

    def test_kill9_while_the_item_is_only_in_the_queue_journal(self):
        """A first attempt still at the peer's end of data: the item is only a record of the
        queue's journal (no queue file yet: QueueStore's fast path). kill -9, and the next
        start files it from the journal, says so, and sends it again, a known duplicate."""
        entered, release = threading.Event(), threading.Event()

        def data(t):
            if t.session.number == 1:
                entered.set()
                release.wait(10)
            return None
        self.addCleanup(release.set)
        self.peer_up().on_data = data
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-journalled"))
        self.assertTrue(entered.wait(15), "no delivery attempt reached the end of data" +
                        self.diag())
        self.assertEqual(o.queue_holding(self.srv, b"q-journalled"), [],
                         "a queue file already (expected: only the journal)")
        self.assertIn(b"q-journalled", (o.queue_path(self.srv) / "journal").read_bytes())
        self.srv.kill9()
        release.set()
        self.srv.restart()
        self.assertIsNotNone(self.srv.wait_log(r"queue journal \S+: 1 message\(s\) filed after "
                                               r"a restart", 10), self.diag())
        self.assertTrue(self.peer.wait(lambda p: len(p.messages()) >= 2, 20),
                        "not sent again after the restart" + self.diag())
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": warning: possible "
                                               r"duplicate: to=<", 5), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"q-journalled"), [], self.diag())
        self.assertEqual(len(self.peer.messages()), 2, self.diag())

    def test_kill9_after_a_delivery_from_the_journal_sends_nothing_again(self):
        """Delivered at once: the item never became a file, and its journal record is finished
        (journal.done): a kill -9 right after must not bring it back."""
        self.peer_up()
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-fast"))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 10), self.diag())
        # The line comes before the state is written (as Postfix's does); "removed" after it.
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": removed$", 5), self.diag())
        self.assertEqual(o.queue_files(self.srv, skip=("corrupt", "transcripts")), [])
        self.srv.kill9()
        self.srv.restart()
        self.assertIsNone(self.srv.wait_log(r"queue journal \S+: [1-9]\d* message\(s\) filed",
                                            2), self.diag())
        time.sleep(1)
        self.assertEqual(len(self.peer.messages()), 1, "sent again" + self.diag())

    def test_a_stop_cuts_outbound_connections_at_the_grace_period(self):
        """SIGTERM while a peer sits on the end of data: after [server] shutdown_grace (1 s)
        the connection is closed under it, taube exits 0, and the message stays queued (its
        data was out: a known possible duplicate), delivered after the restart."""
        self.srv.stop()
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{self.peer_port}"}, port=self.srv.port,
                           extra={"server": {"shutdown_grace": 1}})
        o.guard(self, self.srv)
        entered, release = threading.Event(), threading.Event()

        def data(t):
            if t.session.number == 1:
                entered.set()
                release.wait(30)
            return None
        self.addCleanup(release.set)
        self.peer_up().on_data = data
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-grace"))
        self.assertTrue(entered.wait(15), "no delivery reached the end of data" + self.diag())
        t0 = time.monotonic()
        self.assertEqual(self.srv.stop(check=False), 0, self.diag())
        self.assertLess(time.monotonic() - t0, 10, "the stop waited for the peer")
        self.assertIsNotNone(self.srv.wait_log(r"grace period over: closing 1 outbound", 0),
                             self.diag())
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": warning: possible duplicate",
                                               0), self.diag())
        self.assertTrue(o.wait_queue_holding(self.srv, b"q-grace"), "the message left the queue")
        release.set()
        self.srv.restart()
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 20), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"q-grace"), [], self.diag())

    def test_a_stop_cuts_connections_still_being_opened(self):
        """SIGTERM while the peer has accepted the TCP connection but not yet greeted (it would
        for a minute: the greeting timeout is 5 minutes): after shutdown_grace the opening is
        cut, taube exits 0 at once, the message stays queued and goes out after the restart."""
        self.srv.stop()
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{self.peer_port}"}, port=self.srv.port,
                           extra={"server": {"shutdown_grace": 1}})
        o.guard(self, self.srv)
        self.peer = SmtpPeer(port=self.peer_port, delay={"GREETING": 60})
        self.addCleanup(self.peer.stop)
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-opening"))
        self.assertTrue(self.peer.wait(lambda p: len(p.sessions()) >= 1, 10), self.diag())
        t0 = time.monotonic()
        self.assertEqual(self.srv.stop(check=False), 0, self.diag())
        self.assertLess(time.monotonic() - t0, 8, "the stop waited for the greeting")
        self.assertIsNotNone(self.srv.wait_log(r"grace period over: closing 0 outbound "
                                               r"connection\(s\) and 1 being opened", 0),
                             self.diag())
        self.assertTrue(o.queue_holding(self.srv, b"q-opening"), "the message left the queue")
        self.peer.delay = 0.0
        self.srv.restart()
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 20), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"q-opening"), [], self.diag())

    def test_connection_lost_after_the_end_of_data_is_a_known_duplicate(self):
        """The peer closes the connection after the whole message instead of replying: it may
        have taken it, so Taube sends it again and says so at once."""
        qid = o.submit(self.srv, ALICE, [BOB], o.message("q-lost-dot"))
        self.peer_up().on_data = lambda t: "DROP" if t.session.number == 1 else None
        self.assertIsNotNone(
            self.srv.wait_log(re.escape(qid) + r": warning: possible duplicate: to=<" +
                              re.escape(BOB) + r">, relay=\S+: the connection ended after the "
                              r"end of data", 15), self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 15), self.diag())
        # Both copies reached the peer's end of data; only the second got a reply.
        self.assertEqual(len([t for s in self.peer.sessions() for t in s.transactions
                              if t.data is not None]), 2, self.diag())

    def corrupt_setup(self, with_message: bool):
        """A valid item deferred, taube stopped, a garbage envelope written into env/ (and,
        with_message and a queue layout with new/, a message file of the same name: a complete
        item whose envelope does not parse), then the peer and taube started."""
        qid = self.queue_and_defer("q-valid")
        self.srv.stop()
        env = o.queue_path(self.srv) / "env"
        self.assertTrue(env.is_dir(), f"no {env}: " + self.diag())
        self.bad = env / "ZZCORRUPT0001"
        self.garbage = b"\x00\xffnot an envelope\n\x01" * 7
        self.bad.write_bytes(self.garbage)
        new = o.queue_path(self.srv) / "new"
        if with_message and new.is_dir():
            (new / self.bad.name).write_bytes(o.message("q-corrupt").replace(b"\r\n", b"\n"))
        self.peer_up()
        self.mark = len(self.srv.lines())
        self.srv.restart()
        return qid

    def wait_gone(self, path: Path, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not path.exists()

    def test_corrupt_item_moved_aside(self):
        qid = self.corrupt_setup(with_message=True)
        self.assertIsNotNone(self.srv.wait_log(r"ZZCORRUPT0001", 10, start=self.mark),
                             "no log line names the corrupt item" + self.diag())
        self.assertTrue(self.wait_gone(self.bad), "corrupt item left in env/" + self.diag())
        corrupt = o.queue_path(self.srv) / "corrupt"
        moved = [p for p in corrupt.rglob("*") if p.is_file() and p.read_bytes() == self.garbage] \
            if corrupt.is_dir() else []
        self.assertEqual(len(moved), 1, f"not moved into {corrupt}" + self.diag())
        self.assert_delivered_once("q-valid", qid)
        self.assertEqual([m for m in self.peer.messages() if b"q-corrupt" in m.data], [],
                         "an item whose envelope did not parse was delivered")
        self.srv.assert_alive()
        self.srv.stop()

    def test_lone_garbage_envelope_does_not_stop_the_queue(self):
        """A garbage file alone in env/ (no message next to it): whether it is taken for a
        crash's leftover (removed) or moved aside, it leaves env/ and the valid item is
        delivered."""
        qid = self.corrupt_setup(with_message=False)
        self.assertTrue(self.wait_gone(self.bad), "garbage left in env/" + self.diag())
        self.assert_delivered_once("q-valid", qid)
        self.srv.assert_alive()
        self.srv.stop()

if __name__ == "__main__":
    h.main()

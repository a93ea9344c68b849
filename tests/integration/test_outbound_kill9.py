"""kill -9 at each step of a delivery (issue: "kill -9 at each state transition → nothing
acknowledged lost, duplicates only where the state says so and counted").

A message for two recipients at one destination; the destination holds its first session at
one step of the dialog while Taube is killed, then Taube restarts and delivers. Before the data
went out (MAIL, RCPT held), the message must arrive exactly once; once the data is out (the end
of data held, or the peer's 250 sent), it may arrive twice, and then Taube must have said so
("possible duplicate", queue/inflight.hpp). Each step is run against the queue's journal (the
default: the item is only a journal record during its first attempt) and without it (the item
is queue files before its 250). The deferral step ("while writing the state") is
test_outbound_queue's kill-9-after-deferral and the power-cut suite's armed syncs.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB, CAROL  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

# step -> may the message arrive twice (the data was out when Taube died)?
STEPS = {"mail": False, "rcpt": False, "end_of_data": True, "after_250": True}


class KillAtEachStep(unittest.TestCase):
    def run_step(self, step: str, journal_mb: int) -> None:
        marker = f"k9-{step}-{journal_mb}"
        port = free_port("127.0.0.2")
        entered, release = threading.Event(), threading.Event()
        self.addCleanup(release.set)

        def hold(session_number: int):
            if session_number == 1:
                entered.set()
                release.wait(15)

        peer = SmtpPeer(port=port)
        self.addCleanup(peer.stop)
        if step == "mail":
            peer.on_mail = lambda addr, params, n: hold(n)
        elif step == "rcpt":
            peer.on_rcpt = lambda addr, n: hold(n) if addr == CAROL else None
        elif step == "end_of_data":
            peer.on_data = lambda t: hold(t.session.number)
        srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                      queue={"journal_size_mb": journal_mb})
        o.guard(self, srv)
        qid = o.submit(srv, ALICE, [BOB, CAROL], o.message(marker))
        if step == "after_250":
            # The peer has the message and has answered; Taube may or may not have recorded it.
            self.assertTrue(peer.wait(lambda p: len(p.messages()) >= 1, 15), o.diag(srv, peer))
        else:
            self.assertTrue(entered.wait(15), f"the dialog never reached {step}" +
                            o.diag(srv, peer))
        self.assertEqual(srv.kill9(), -9)
        release.set()
        srv.restart()
        self.assertEqual(o.wait_queue_clear(srv, marker.encode(), 20), [], o.diag(srv, peer))
        time.sleep(0.5)  # a second copy would be on its way now
        copies = [m for m in peer.messages() if f"marker {marker}".encode() in m.data]
        for m in copies:
            self.assertEqual(sorted(m.rcpt_addrs()), sorted([BOB, CAROL]))
        dup = srv.wait_log(re.escape(qid) + r": warning: possible duplicate: to=<", 1)
        if STEPS[step]:
            self.assertIn(len(copies), (1, 2), o.diag(srv, peer))
            if len(copies) == 2:
                self.assertIsNotNone(dup, "a second copy, not announced" + o.diag(srv, peer))
        else:
            self.assertEqual(len(copies), 1, "the data never went out before the kill: exactly "
                             "once" + o.diag(srv, peer))
            self.assertIsNone(dup, "nothing was sent: no duplicate to announce")
        for rcpt in (BOB, CAROL):
            self.assertIsNotNone(srv.wait_log(o.status_rx(rcpt, "sent", qid), 5),
                                 o.diag(srv, peer))
        self.assertEqual(srv.stop(), 0)

    def test_each_step_with_the_queue_journal(self):
        for step in STEPS:
            with self.subTest(step=step):
                self.run_step(step, 64)

    def test_each_step_without_the_queue_journal(self):
        for step in STEPS:
            with self.subTest(step=step):
                self.run_step(step, 0)


if __name__ == "__main__":
    unittest.main()

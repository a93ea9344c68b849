"""Start-up with a queue that takes a while to load (docs/outbound.md "Start-up"): Taube surveys
the queue directory, listens, and reads the envelopes in the background. While the load is
still running it must serve connections, queue and deliver new mail, and take ETRN; once the
load is done every item is delivered exactly once: none twice (an item submitted during the
load is not also found by the load), none forgotten (ETRN during the load also reaches the
items loaded after it).

The load is held up deterministically: one item's envelope is a named pipe, so the loader's
open() blocks until the test writes the envelope into it. The items come from the queue
generator the scale benchmark uses (taubetest/queuegen, Taube's on-disk format)."""

import os
import re
import shutil
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest import queuegen  # noqa: E402
from taubetest.outbound import ALICE, BOB, REMOTE  # noqa: E402
from taubetest.smtp_peer import SmtpPeer  # noqa: E402

N = 3000
LOADED_RX = r"queue \S+: (\d+) message\(s\) loaded in"
MESSAGE = (b"Received: from client.test by taube.test; Mon, 01 Jan 2024 00:00:00 +0000\n"
           b"From: <alice@example.org>\nTo: <bob@remote.test>\nSubject: @MARKER@\n"
           b"Message-ID: <@MARKER@@gen.test>\n\nmarker @MARKER@\n")


def spec() -> dict:
    now = int(time.time())
    return dict(env={"sender": ("alice", "example.org"), "size": 300, "body": "7bit",
                     "smtputf8": False, "client": ("127.0.0.1", "client.test")},
                message=MESSAGE, domains=[REMOTE], now=now, routes={REMOTE: "none"},
                reply={REMOTE: "connect to 127.0.0.2[127.0.0.2]:25: Connection refused"},
                id_prefix="GEN", name_prefix=f"{now}.M0P1", name_suffix="_taube.gen.test")


class LoadInBackground(unittest.TestCase):
    def test_serves_during_the_load_and_delivers_each_item_once(self):
        peer = SmtpPeer()
        self.addCleanup(peer.stop)
        root = Path(tempfile.mkdtemp(prefix="taube-it-startup-"))
        self.addCleanup(shutil.rmtree, root, True)
        queue = root / o.QUEUE
        queuegen.generate(queue, N, spec(), procs=1)
        names = sorted(os.listdir(queue / "env"))
        self.assertEqual(len(names), N)
        # Past the first chunk of the load (2048 items), so that one chunk is filed before the
        # load stalls and the rest after.
        held = names[2500]
        text = (queue / "env" / held).read_text()
        (queue / "env" / held).unlink()
        os.mkfifo(queue / "env" / held)
        released = threading.Event()

        def release():
            if released.is_set():
                return
            released.set()
            try:
                fd = os.open(queue / "env" / held, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                return  # no reader (Taube gone): nothing to unblock
            os.write(fd, text.encode())
            os.close(fd)
        self.addCleanup(release)

        srv = o.start({REMOTE: o.route(peer)}, root=root, extra={"smtp": {"etrn": True}},
                      queue={"max_lifetime": 86400})  # the items arrived up to 1 h ago
        o.guard(self, srv)
        self.assertIsNotNone(srv.wait_log(rf"queue \S+: loading {N} message\(s\)", 10),
                             o.diag(srv, peer))

        # The load is stalled at the pipe; the server serves all the same.
        with h.RawClient(h.HOST, srv.port, 10) as c:
            c.greet()
            c.expect("221", "QUIT")
        qid = o.submit(srv, ALICE, [BOB], o.message("during-load"))
        got = peer.wait_for(1, 15)
        self.assertEqual(len(got), 1, o.diag(srv, peer))
        self.assertIn(b"marker during-load", got[0].data)
        # ETRN now reaches the items loaded so far (the first chunk); they are deferred an hour.
        with h.RawClient(h.HOST, srv.port, 10) as c:
            c.greet()
            c.expect("250", f"ETRN {REMOTE}")
            c.expect("221", "QUIT")
        self.assertTrue(peer.wait(lambda p: len(p.messages()) >= 1 + 2048, 60),
                        f"{len(peer.messages())} delivered" + o.diag(srv, peer))
        time.sleep(0.5)
        self.assertIsNone(re.search(LOADED_RX, srv.log_text()), "loaded before the pipe opened")
        self.assertEqual(len(peer.messages()), 1 + 2048, "more than the loaded items delivered")

        # Unblocked: the rest is loaded and, by the ETRN given during the load, delivered.
        release()
        m = srv.wait_log(LOADED_RX, 20)
        self.assertIsNotNone(m, o.diag(srv, peer))
        self.assertEqual(int(m.group(1)), N)
        self.assertTrue(peer.wait(lambda p: len(p.messages()) >= N + 1, 60),
                        f"{len(peer.messages())} of {N + 1} delivered" + o.diag(srv, peer))
        time.sleep(1.0)  # a duplicate would arrive now
        markers = Counter()
        for t in peer.messages():
            found = re.search(rb"marker (\S+)", t.data)
            markers[found.group(1).decode() if found else "?"] += 1
        self.assertEqual(len(peer.messages()), N + 1, "delivered twice")
        self.assertEqual(markers["during-load"], 1)
        self.assertEqual(set(markers), {"during-load"} | {f"sc.{i}" for i in range(N)})
        self.assertEqual(max(markers.values()), 1)
        self.assertIsNotNone(srv.wait_log(o.status_rx(BOB, "sent", qid), 5))
        deadline = time.monotonic() + 15
        while any((queue / "env").iterdir()) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(list((queue / "env").iterdir()), [], "items left in the queue")
        self.assertNotIn("corrupt", srv.log_text())
        srv.stop()


if __name__ == "__main__":
    h.main()

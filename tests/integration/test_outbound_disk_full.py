"""A full disk under the outbound queue (issue: "a full disk under the queue → 452 4.3.1 at
submission and nothing lost"): the queue directory is a small tmpfs, the destination is down, and
relay clients submit until the disk is full.

- Large messages (over the journal's 256 KiB) take the file way: each is two queue files before
  its 250; when they no longer fit, `452 4.3.1` and nothing partial is left.
- Small messages go to the queue's journal first (preallocated: it still takes them when the
  disk is full); writing them out as queue files fails with ENOSPC and they stay in the journal
  (retried); once the journal or its memory budget is full, the file way answers 452.

Either way every acknowledged message is delivered exactly once when the destination comes
back and space is freed, and the session goes on after the 452.

Mounting needs CAP_SYS_ADMIN: without it the tests are skipped (never passed silently).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

FULL = "452 4.3.1 Error: insufficient system storage"


class QueueDiskFull(unittest.TestCase):
    SIZE = "3m"

    def setUp(self):
        self.mnt = Path(tempfile.mkdtemp(prefix="taube-qfull-"))
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE},mode=0755", "tmpfs",
                            str(self.mnt)], capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest(f"cannot mount a tmpfs (needs CAP_SYS_ADMIN): {p.stderr.strip()}")
        self.addCleanup(self.unmount)
        self.peer_port = free_port("127.0.0.2")
        self.peer = None

    def unmount(self):
        r = subprocess.run(["umount", str(self.mnt)], capture_output=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)
        shutil.rmtree(self.mnt, ignore_errors=True)

    def start(self, journal_mb: int):
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{self.peer_port}"}, port=h.free_port(),
                           queue={"path": str(self.mnt / "queue"), "journal_size_mb": journal_mb,
                                  "retry_min": 1, "retry_max": 1, "max_lifetime": 600})
        o.guard(self, self.srv)

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def queue_files(self, marker: bytes = b"") -> list[Path]:
        """Item files (new/, env/, tmp/) on the tmpfs, those holding `marker` if given."""
        out = []
        for sub in ("new", "env", "tmp"):
            for p in sorted((self.mnt / "queue" / sub).glob("*")):
                if not marker or marker in p.read_bytes():
                    out.append(p)
        return out

    def fill(self, c: h.RawClient, size: int, limit: int) -> tuple[list[str], str]:
        """Submits `size`-octet messages until one gets a 452; returns the accepted markers."""
        accepted = []
        for i in range(limit):
            marker = f"qfull-{size}-{i}"
            c.expect("250", f"MAIL FROM:<{ALICE}>")
            c.expect("250", f"RCPT TO:<{BOB}>")
            c.expect("354", "DATA")
            body = o.message(marker, body=b"x" * 76 + b"\r\n") + (b"y" * 998 + b"\r\n") * (
                size // 1000)
            c.send(h.dot_stuff(body) + b".\r\n")
            r = c.reply()
            if r.code == 250:
                accepted.append(marker)
                continue
            self.assertEqual(r.last, FULL, f"message {i + 1} on a full queue disk" + self.diag())
            return accepted, marker
        self.fail(f"no 452 after {limit} messages of {size} octets on a {self.SIZE} tmpfs")

    def drain_and_check(self, c: h.RawClient, accepted: list[str], refused: str):
        # The session goes on after the 452.
        c.expect("250", "RSET")
        c.expect("221", "QUIT")
        # Space comes back (an operator removes a filler; here: the tmpfs grows) and so does the
        # destination: everything acknowledged arrives, once; the refused message never.
        subprocess.run(["mount", "-o", "remount,size=64m", str(self.mnt)], check=True)
        self.peer = SmtpPeer(port=self.peer_port)
        self.addCleanup(self.peer.stop)
        self.assertTrue(self.peer.wait(lambda p: len(p.messages()) >= len(accepted), 60),
                        f"{len(self.peer.messages())} of {len(accepted)} delivered" + self.diag())
        got = [m.data for m in self.peer.messages()]
        for marker in accepted:
            n = sum(1 for d in got if f"marker {marker}\r\n".encode() in d)
            self.assertEqual(n, 1, f"{marker} delivered {n} times" + self.diag())
        self.assertFalse(any(f"marker {refused}\r\n".encode() in d for d in got),
                         "the refused message was delivered")
        deadline = time.monotonic() + 10
        while self.queue_files() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.queue_files(), [], self.diag())
        self.assertEqual(self.srv.stop(), 0)

    def test_large_messages_452_when_the_queue_disk_is_full(self):
        self.start(journal_mb=0)
        with h.RawClient(o.HOST, self.srv.port, 30) as c:
            c.greet()
            c.expect("250", "EHLO client.test")
            accepted, refused = self.fill(c, 300_000, 40)
            self.assertGreater(len(accepted), 2, "some messages fit before the disk is full")
            # Nothing partial: every queue file holds a whole accepted message; tmp/ is empty.
            self.assertEqual(len(self.queue_files(b"marker qfull")), len(accepted), self.diag())
            self.assertEqual(self.queue_files(f"marker {refused}\r".encode()), [])
            self.assertEqual(list((self.mnt / "queue" / "tmp").iterdir()), [])
            self.drain_and_check(c, accepted, refused)

    def test_small_messages_stay_in_the_queue_journal_when_the_disk_is_full(self):
        self.start(journal_mb=1)
        with h.RawClient(o.HOST, self.srv.port, 30) as c:
            c.greet()
            c.expect("250", "EHLO client.test")
            # 20 KiB each: the 2 MB left after the 1 MB journal fill up with queue files (the
            # deferred items are written out), then the journal holds the rest (its 1 MB ring),
            # then the file way answers 452.
            accepted, refused = self.fill(c, 20_000, 400)
            self.assertGreater(len(accepted), 60, self.diag())
            self.assertIsNotNone(self.srv.wait_log(r"queue journal: cannot write out \d+ "
                                                   r"item\(s\) as queue files", 10), self.diag())
            self.drain_and_check(c, accepted, refused)


if __name__ == "__main__":
    unittest.main()

"""Disk faults against the real binary: a full file system (a 2 MB tmpfs as the mail root) and
unwritable Maildirs (new/ or tmp/ replaced by a regular file, new/ made immutable with chattr).

Expected (README, "Delivery"): disk full gives 452 4.3.1, other failures 451 4.3.0, nothing
partial in new/, tmp/ clean, the session goes on, and delivery works again once the fault is
gone. A transaction for several recipients is all-or-nothing.

Mounting needs CAP_SYS_ADMIN: without it the tmpfs tests are skipped (never passed silently).
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
from taubetest import robust as rh  # noqa: E402

FULL = "452 4.3.1 Error: insufficient system storage"
IOERR = "451 4.3.0 Error: queue file write error"
ALICE, BOB, CAROL = "alice@localhost", "bob@localhost", "carol@localhost"


class Base(unittest.TestCase):
    def deliver(self, c: h.RawClient, marker: str, size: int, rcpts: list[str]) -> h.Reply:
        body = rh.make_body(marker, size)
        self.sent[marker] = body
        c.expect("250", f"MAIL FROM:<{rh.SENDER}>")
        for r in rcpts:
            c.expect("250", f"RCPT TO:<{r}>")
        c.expect("354", "DATA")
        c.send(h.dot_stuff(body) + b".\r\n")
        return c.reply()

    def wait_tmp_clean(self, timeout: float = 3.0) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            left = rh.tmp_files(self.srv.mail_root)
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.02)

    def assert_copies(self, marker: str, rcpts: list[str], n: int) -> None:
        seen = rh.check_store(self.srv.mail_root, self.sent)  # every file complete
        for r in rcpts:
            self.assertEqual(seen.get((marker, str(self.srv.maildir(r))), 0), n,
                             f"{marker} in {r}'s new/")


# --------------------------------------------------------------------------------------------


class DiskFull(Base):
    SIZE = "2m"

    def setUp(self):
        self.sent: dict[str, bytes] = {}
        self.mnt = Path(tempfile.mkdtemp(prefix="taube-tmpfs-"))
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.SIZE},mode=0755", "tmpfs",
                            str(self.mnt)], capture_output=True, text=True)
        if p.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest(f"cannot mount a tmpfs (needs CAP_SYS_ADMIN): {p.stderr.strip()}")
        self.addCleanup(self.unmount)
        self.srv = rh.RTaube(mail_root=self.mnt)
        self.addCleanup(self.srv.cleanup)

    def unmount(self):
        r = subprocess.run(["umount", str(self.mnt)], capture_output=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(self.mnt)], capture_output=True)
        shutil.rmtree(self.mnt, ignore_errors=True)

    def free_space(self) -> int:
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def fill_until_full(self, c: h.RawClient, rcpts: list[str], size: int) -> tuple[list, str]:
        accepted = []
        for i in range(40):
            marker = f"m-full-{i}"
            r = self.deliver(c, marker, size, rcpts)
            if r.code == 250:
                h.queued_id(r)
                accepted.append(marker)
                continue
            self.assertEqual(r.last, FULL, f"message {i + 1} on a full disk")
            return accepted, marker
        self.fail(f"no 452 after 40 messages of {size} octets on a {self.SIZE} tmpfs")

    def test_full_disk_452_nothing_partial_and_recovery(self):
        c = self.srv.client()
        self.addCleanup(c.close)
        c.greet()
        accepted, failed = self.fill_until_full(c, [ALICE, BOB], 300_000)
        self.assertGreater(len(accepted), 0, "some messages fit before the disk is full")
        # Nothing partial: every stored file is complete; the failed message is nowhere.
        for m in accepted:
            self.assert_copies(m, [ALICE, BOB], 1)
        self.assert_copies(failed, [ALICE, BOB], 0)
        self.assertEqual(self.wait_tmp_clean(), [], "tmp/ clean after the 452")
        # The session goes on.
        c.expect("250 2.0.0", "RSET")
        c.expect("250 2.0.0", "NOOP")
        # Still full: the same answer again, still nothing partial.
        r = self.deliver(c, "m-full-again", 300_000, [ALICE])
        self.assertEqual(r.last, FULL)
        self.assert_copies("m-full-again", [ALICE], 0)
        # Free space (delete the delivered messages): delivery works again, same session.
        for p in rh.store_files(self.srv.mail_root):
            p.unlink()
        self.sent = {}
        r = self.deliver(c, "m-after-free", 300_000, [ALICE, BOB])
        h.queued_id(r)
        self.assert_copies("m-after-free", [ALICE, BOB], 1)
        c.expect("221", "QUIT")
        rh.report("disk_full", accepted_before_452=len(accepted),
                  free_after_fill_kb=self.free_space() // 1024)
        self.assertEqual(self.srv.stop(), 0)
        self.assertEqual(rh.tmp_files(self.srv.mail_root), [])

    def test_completely_full_disk_small_message_and_bdat(self):
        """The disk is already 100 % full (a filler file): a tiny message and a BDAT message
        get 452 4.3.1 (or 451 4.3.0 for a Maildir that cannot even be created), nothing is
        left behind, and after removing the filler both work."""
        c = self.srv.client()
        self.addCleanup(c.close)
        c.greet()
        # Create the Maildirs first (one small delivery each).
        for r in (ALICE, BOB):
            h.queued_id(self.deliver(c, f"m-pre-{r[0]}", 200, [r]))
        filler = self.mnt / "filler"
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        try:
            with open(filler, "ab") as f:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass
        r = self.deliver(c, "m-tiny", 200, [ALICE])
        self.assertEqual(r.last, FULL)
        c.expect("250", f"MAIL FROM:<{rh.SENDER}>")
        c.expect("250", f"RCPT TO:<{BOB}>")
        body = rh.make_body("m-bdat", 5000)
        self.sent["m-bdat"] = body
        self.assertEqual(c.bdat(body[:1000]).code, 250)
        r = c.bdat(body[1000:], last=True)
        self.assertEqual(r.last, FULL)
        # A Maildir that does not exist yet on a full disk.
        r = self.deliver(c, "m-carol", 200, [CAROL])
        self.assertIn(r.last, (FULL, IOERR))
        self.assert_copies("m-tiny", [ALICE], 0)
        self.assert_copies("m-bdat", [BOB], 0)
        self.assert_copies("m-carol", [CAROL], 0)
        self.assertEqual(self.wait_tmp_clean(), [])
        c.expect("250 2.0.0", "NOOP")
        filler.unlink()
        h.queued_id(self.deliver(c, "m-tiny-2", 200, [ALICE, CAROL]))
        self.assert_copies("m-tiny-2", [ALICE, CAROL], 1)
        c.expect("221", "QUIT")
        self.assertEqual(self.srv.stop(), 0)


# --------------------------------------------------------------------------------------------


class UnwritableMaildir(Base):
    def setUp(self):
        self.sent: dict[str, bytes] = {}
        self.srv = rh.RTaube()
        self.addCleanup(self.srv.cleanup)
        self.c = self.srv.client()
        self.addCleanup(self.c.close)
        self.c.greet()
        # Create alice's and bob's Maildirs with one delivery each.
        for r in (ALICE, BOB):
            h.queued_id(self.deliver(self.c, f"m-pre-{r[0]}", 300, [r]))

    def check_fault(self, label: str, restore) -> None:
        c = self.c
        bob_new_before = sorted(rh.store_files(self.srv.maildir(BOB)))
        # Only bob: 451, nothing in new/, tmp/ clean.
        r = self.deliver(c, f"m-{label}-1", 300_000, [BOB])
        self.assertEqual(r.last, IOERR, f"{label}: bob only")
        self.assertEqual(self.wait_tmp_clean(), [], f"{label}: tmp/ clean")
        # alice + bob in one transaction: all or nothing (nothing for alice either).
        r = self.deliver(c, f"m-{label}-2", 2_000, [ALICE, BOB])
        self.assertEqual(r.last, IOERR, f"{label}: alice+bob")
        self.assert_copies(f"m-{label}-2", [ALICE], 0)
        self.assertEqual(self.wait_tmp_clean(), [])
        # The session goes on; other recipients are unaffected in later transactions.
        c.expect("250 2.0.0", "RSET")
        c.expect("250 2.0.0", "NOOP")
        h.queued_id(self.deliver(c, f"m-{label}-3", 50_000, [ALICE]))
        self.assert_copies(f"m-{label}-3", [ALICE], 1)
        self.assertEqual(sorted(rh.store_files(self.srv.maildir(BOB))), bob_new_before)
        # Repair: bob gets mail again (the server does not cache the broken state).
        restore()
        h.queued_id(self.deliver(c, f"m-{label}-4", 2_000, [ALICE, BOB]))
        self.assert_copies(f"m-{label}-4", [ALICE, BOB], 1)
        self.assertEqual(self.wait_tmp_clean(), [])
        self.srv.assert_alive()

    def test_new_is_a_regular_file(self):
        new = self.srv.maildir(BOB) / "new"
        saved = self.srv.dir / "bob-new-saved"
        new.rename(saved)
        new.write_bytes(b"not a directory\n")

        def restore():
            new.unlink()
            saved.rename(new)
        self.check_fault("newfile", restore)

    def test_tmp_is_a_regular_file(self):
        tmp = self.srv.maildir(BOB) / "tmp"
        tmp.rmdir()
        tmp.write_bytes(b"not a directory\n")

        def restore():
            tmp.unlink()
            tmp.mkdir(mode=0o700)
        c = self.c
        r = self.deliver(c, "m-tmpfile-1", 300_000, [BOB])
        self.assertEqual(r.last, IOERR)
        r = self.deliver(c, "m-tmpfile-2", 2_000, [BOB, ALICE])
        self.assertEqual(r.last, IOERR)
        self.assert_copies("m-tmpfile-2", [ALICE, BOB], 0)
        self.assertEqual(rh.tmp_files(self.srv.mail_root), [])
        h.queued_id(self.deliver(c, "m-tmpfile-3", 2_000, [ALICE]))
        restore()
        h.queued_id(self.deliver(c, "m-tmpfile-4", 2_000, [BOB]))
        self.assert_copies("m-tmpfile-4", [BOB], 1)

    def test_new_is_immutable(self):
        if not rh.have_cmd("chattr"):
            self.skipTest("chattr (e2fsprogs) not installed")
        new = self.srv.maildir(BOB) / "new"
        p = rh.run(["chattr", "+i", str(new)])
        if p.returncode != 0:
            self.skipTest(f"chattr +i not supported here: {p.stderr.strip()}")
        self.addCleanup(rh.run, ["chattr", "-i", str(new)])
        self.check_fault("immutable", lambda: rh.run(["chattr", "-i", str(new)]))

    def tearDown(self):
        if self.srv.proc.poll() is None:
            self.assertEqual(self.srv.stop(), 0)
        self.assertEqual(rh.tmp_files(self.srv.mail_root), [])


if __name__ == "__main__":
    h.main()

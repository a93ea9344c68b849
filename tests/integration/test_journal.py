"""The delivery journal against the real binary (store/delivery_journal.hpp).

With the journal (the default), a 250 means the message is durable in <mail_root>/.taube-journal
and its Maildir file follows within milliseconds; a crash in between is repaired at the next
start (test_crash_consistency kills the server under load and checks that). Here: a graceful
stop publishes everything acknowledged; a journal that cannot be read stops the start rather
than risk mail; one that cannot be created is done without; `journal = false` delivers every
message straight into new/ before the 250.
"""

import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def new_files(maildir: Path) -> list[Path]:
    """new/ as it is now (no settle: these tests check what is there at a given moment)."""
    new = maildir / "new"
    return sorted(new.iterdir()) if new.is_dir() else []


class Journal(unittest.TestCase):
    def test_the_journal_is_created_beside_the_maildirs(self):
        srv = h.Taube()
        self.addCleanup(srv.cleanup)
        j = srv.mail_root / ".taube-journal"
        self.assertTrue(j.is_file())
        self.assertEqual(j.stat().st_size, 32 << 20)
        self.assertEqual(j.stat().st_mode & 0o777, 0o600)
        with srv.client() as c:
            c.greet()
            h.queued_id(c.send_message("a@example.net", ["alice@localhost"], b"Subject: j\r\n\r\nx\r\n"))
            c.expect("221", "QUIT")
        self.assertEqual(len(h.wait_messages(srv.maildir("alice@localhost"), 1)), 1)
        self.assertEqual(srv.stop(), 0)

    def test_sigterm_publishes_everything_acknowledged(self):
        srv = h.Taube()
        self.addCleanup(srv.cleanup)
        acked = []
        lock = threading.Lock()

        def sender(n: int) -> None:
            with smtplib.SMTP(h.HOST, srv.port, timeout=20) as s:
                s.ehlo("client.test")
                for k in range(40):
                    s.sendmail("a@example.net", [f"u{n}@localhost"],
                               f"Subject: m{n}.{k}\r\n\r\nbody {n}.{k}\r\n".encode())
                    with lock:
                        acked.append((n, k))

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # At once after the last 250: part of it is typically still only in the journal.
        self.assertEqual(srv.stop(), 0)
        self.assertEqual(len(acked), 320)
        for n in range(8):
            self.assertEqual(len(new_files(srv.maildir(f"u{n}@localhost"))), 40, f"u{n}")

    def test_a_journal_that_cannot_be_read_stops_the_start(self):
        d = Path(tempfile.mkdtemp(prefix="taube-it-"))
        self.addCleanup(shutil.rmtree, d, True)
        mail = d / "mail"
        mail.mkdir()
        (mail / ".taube-journal").write_bytes(b"z" * (1 << 20))  # not a journal: may be mail
        cfg = d / "taube.toml"
        cfg.write_text(h.to_toml(h.base_config(mail)))
        p = subprocess.run([h.taube_bin(), "serve", "--config", str(cfg)], cwd=d,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot open the delivery journal", p.stderr)
        self.assertNotIn("listening on", p.stderr)
        self.assertEqual((mail / ".taube-journal").read_bytes(), b"z" * (1 << 20))

    def test_a_journal_that_cannot_be_created_is_done_without(self):
        srv = h.Taube({"delivery": {"journal_path": "/proc/taube-cannot-be-here/journal"}})
        self.addCleanup(srv.cleanup)
        self.assertIsNotNone(srv.wait_log(r"cannot create the delivery journal .*; delivering "
                                          r"without it", 0))
        with srv.client() as c:
            c.greet()
            h.queued_id(c.send_message("a@example.net", ["bob@localhost"], b"Subject: d\r\n\r\nx\r\n"))
            # Direct delivery: in new/ before the 250.
            self.assertEqual(len(new_files(srv.maildir("bob@localhost"))), 1)
            c.expect("221", "QUIT")
        self.assertEqual(srv.stop(), 0)

    def test_journal_off_delivers_before_the_250(self):
        srv = h.Taube({"delivery": {"journal": False}})
        self.addCleanup(srv.cleanup)
        self.assertFalse((srv.mail_root / ".taube-journal").exists())
        with srv.client() as c:
            c.greet()
            for k in range(5):
                h.queued_id(c.send_message("a@example.net", ["carol@localhost"],
                                           f"Subject: {k}\r\n\r\nx\r\n".encode()))
                self.assertEqual(len(new_files(srv.maildir("carol@localhost"))), k + 1)
            c.expect("221", "QUIT")
        self.assertEqual(srv.stop(), 0)


if __name__ == "__main__":
    h.main()

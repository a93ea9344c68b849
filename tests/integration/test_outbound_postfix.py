"""A real Postfix on both sides of Taube's outbound queue (a private instance, see
taubetest/postfix.py; never the system one, never port 25):

  * Taube -> Postfix: Taube's queue delivers [transport] "remote.test" to Postfix's smtpd, which
    stores it with virtual(8) into a Maildir;
  * Postfix -> Taube -> SmtpPeer: Postfix relays (relayhost) into Taube, whose queue relays on.
"""

import os
import pwd
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

N = 5


def wait_files(d: Path, n: int, timeout: float) -> list[Path]:
    deadline = time.monotonic() + timeout
    while True:
        got = sorted(p for p in d.glob("*") if p.is_file()) if d.is_dir() else []
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


class ToPostfix(unittest.TestCase):
    def setUp(self):
        self.pf = h.PrivatePostfix(extra_main=self.virtual_main())
        self.addCleanup(self.pf.cleanup)
        self.pf.start()
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.1]:{self.pf.port}"})
        o.guard(self, self.srv)

    def virtual_main(self) -> dict:
        nobody = pwd.getpwnam("nobody")
        self.vmail = Path(os.environ.get("TMPDIR", "/tmp")) / f"taube-vmail-{os.getpid()}"
        self.vmail.mkdir(mode=0o755, exist_ok=True)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        self.addCleanup(lambda: __import__("shutil").rmtree(self.vmail, ignore_errors=True))
        return {"virtual_mailbox_domains": o.REMOTE, "virtual_mailbox_base": str(self.vmail),
                "virtual_mailbox_maps": "static:maildir/",
                "virtual_uid_maps": f"static:{nobody.pw_uid}",
                "virtual_gid_maps": f"static:{nobody.pw_gid}", "virtual_mailbox_limit": "0"}

    def diag(self) -> str:
        return o.diag(self.srv) + "\n--- postfix maillog:\n" + self.pf.maillog()[-4000:]

    def test_delivered_into_postfix(self):
        msgs = {f"pf-out-{i}": o.message(f"pf-out-{i}", body=b".dot line\r\n\xc3\xa4 8bit\r\n")
                for i in range(N)}
        qids = {m: o.submit(self.srv, ALICE, [BOB], body, mail_params="BODY=8BITMIME")
                for m, body in msgs.items()}
        got = wait_files(self.vmail / "maildir" / "new", N, 30)
        self.assertEqual(len(got), N, self.diag())
        for m, body in msgs.items():
            [f] = [p for p in got if f"marker {m}".encode() in p.read_bytes()] or [None]
            self.assertIsNotNone(f, m + self.diag())
            raw = f.read_bytes()
            self.assertIn(b".dot line\n\xc3\xa4 8bit\n", raw)
            self.assertRegex(raw.decode(errors="replace"),
                             rf"Received: from {re.escape(h.HOSTNAME)} .*\n(?:[ \t].*\n)*"
                             rf"Received: from client\.test .*\n(?:[ \t].*\n)*?.*"
                             rf"by {re.escape(h.HOSTNAME)} \(Taube\)")
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qids[m]), 5),
                                 self.diag())
        self.assertEqual(len(re.findall(r"from=<alice@example\.org>", self.pf.maillog())), N)


class ThroughPostfix(unittest.TestCase):
    def test_postfix_relays_into_taube_which_relays_on(self):
        peer = SmtpPeer()
        self.addCleanup(peer.stop)
        srv = o.start({o.REMOTE: o.route(peer)})
        o.guard(self, srv)
        pf = h.PrivatePostfix(srv.port)
        self.addCleanup(pf.cleanup)
        pf.start()
        import smtplib
        with smtplib.SMTP(h.HOST, pf.port, local_hostname="client.test", timeout=30) as s:
            self.assertEqual(s.sendmail("someone@pf.test", [BOB], o.message("pf-through")), {})
        [m] = peer.wait_for(1, 60) or [None]
        self.assertIsNotNone(m, o.diag(srv, peer) + pf.maillog()[-3000:])
        self.assertEqual(m.mail_from, "someone@pf.test")
        self.assertEqual(m.rcpt_addrs(), [BOB])
        received, rest = o.split_received(m.data)
        self.assertIn(f"by {h.HOSTNAME} (Taube)", received)
        self.assertTrue(rest.startswith(b"Received: from client.test"), rest[:200])
        self.assertIn(b"marker pf-through", rest)


if __name__ == "__main__":
    h.main("postfix", "postqueue")

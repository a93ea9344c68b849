"""`taube queue` on a queue with deferred mail (a destination answering 451): list (mailq's
layout), list --json (postqueue -j's fields), show (the envelope and the last attempt's SMTP
transcript), why, hold and release (kept across a restart), delete, bounce (a DSN to the
sender), requeue and flush (delivered at once when the destination is back, long before the
retry time), IDs from standard input, and the errors: an unknown ID, no server running. Every
action is logged."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB, CAROL  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402


class QueueControl(unittest.TestCase):
    def setUp(self):
        self.failing = True
        port = free_port("127.0.0.2")
        self.peer = SmtpPeer(port=port, rcpt=lambda addr, n: "451 4.7.1 try later"
                             if self.failing else None)
        self.addCleanup(self.peer.stop)
        # No retry within the test: only the commands make mail move.
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                           queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600})
        o.guard(self, self.srv)
        self.ids = []
        for i, rcpts in enumerate(([BOB], [BOB, CAROL], [CAROL])):
            qid = o.submit(self.srv, ALICE, rcpts, o.message(f"qc-{i}"))
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(rcpts[-1], "deferred", qid), 10),
                                 self.diag())
            self.ids.append(qid)
        for qid in self.ids:  # written out as queue files (deferred)
            self.assertTrue(o.wait_queue_holding(self.srv, qid.encode()), self.diag())
        # The deferred line comes before the attempt's state is written: wait until no item is
        # still in its attempt (an action on it would be refused as busy).
        deadline = time.monotonic() + 10
        while any(i["queue_name"] == "active" for i in self.listing()):
            self.assertLess(time.monotonic(), deadline, self.diag())
            time.sleep(0.02)

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def queue(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([h.taube_bin(), "queue", "-c", str(self.srv.config_path), *args],
                              cwd=self.srv.dir, input=stdin, capture_output=True, text=True,
                              timeout=30)

    def listing(self) -> list[dict]:
        r = self.queue("list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(line) for line in r.stdout.splitlines()]

    def test_list_in_mailq_layout(self):
        r = self.queue("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith("-Queue ID-"), r.stdout)
        self.assertIn("--Size-- ----Arrival Time---- -Sender/Recipient-------", lines[0])
        for qid in self.ids:
            head = next((l for l in lines if l.startswith(qid)), None)
            self.assertIsNotNone(head, r.stdout)
            # The mark: " ", "*" while an attempt (or its record) is running, "!" on hold.
            self.assertRegex(head, re.escape(qid) + r"[ *!] +\d+ \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d  "
                             + re.escape(ALICE) + "$")
        self.assertIn("(451 4.7.1 try later)", r.stdout)
        self.assertEqual(sum(1 for l in lines if l.strip() == BOB), 2, r.stdout)
        self.assertEqual(sum(1 for l in lines if l.strip() == CAROL), 2, r.stdout)
        self.assertRegex(lines[-1], r"^-- \d+ Kbytes in 3 Requests\.$")

    def test_list_json_has_postqueue_fields(self):
        items = {i["queue_id"]: i for i in self.listing()}
        self.assertEqual(set(items), set(self.ids))
        two = items[self.ids[1]]
        self.assertEqual(two["queue_name"], "deferred")
        self.assertEqual(two["sender"], ALICE)
        self.assertFalse(two["forced_expire"])
        self.assertGreater(two["message_size"], 100)
        self.assertLess(abs(two["arrival_time"] - time.time()), 60)
        self.assertEqual([r["address"] for r in two["recipients"]], [BOB, CAROL])
        self.assertEqual({r["delay_reason"] for r in two["recipients"]}, {"451 4.7.1 try later"})

    def test_show_and_why(self):
        qid = self.ids[0]
        r = self.queue("show", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"queue id:    {qid}", r.stdout)
        self.assertIn("queue:       deferred", r.stdout)
        self.assertIn(f"<{BOB}> deferred, attempts 1, next ", r.stdout)
        self.assertIn("last reply: 451 4.7.1 try later", r.stdout)
        self.assertIn("transcript of the last attempt:", r.stdout)
        self.assertIn(f"RCPT TO:<{BOB}>", r.stdout)
        self.assertIn("451 4.7.1 try later", r.stdout.split("transcript of the last attempt:")[1])
        w = self.queue("why", qid)
        self.assertEqual(w.returncode, 0, w.stderr)
        self.assertRegex(w.stdout, rf"<{re.escape(BOB)}>: tried 1 time via \S+; the last answer "
                         r'was "451 4\.7\.1 try later"; next attempt in \d+ s')
        self.assertIn("returned to the sender", w.stdout)

    def test_dsn_prints_the_notice_a_bounce_would_send(self):
        qid = self.ids[1]  # to bob and carol
        r = self.queue("dsn", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"To: <{ALICE}>", r.stdout)
        self.assertIn(f"Final-Recipient: rfc822; {BOB}", r.stdout)
        self.assertIn(f"Final-Recipient: rfc822; {CAROL}", r.stdout)
        self.assertIn("Action: failed", r.stdout)
        # Only a preview: the message is still deferred to both.
        item = next(i for i in self.listing() if i["queue_id"] == qid)
        self.assertEqual(item["queue_name"], "deferred")
        missing = self.queue("dsn", "ABCDEF0123456789")
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("not in the queue", missing.stderr)
        self.assertNotEqual(self.queue("dsn").returncode, 0)  # usage

    def test_hold_survives_a_restart_and_release_delivers(self):
        qid = self.ids[0]
        r = self.queue("hold", qid)
        self.assertEqual((r.returncode, r.stdout), (0, f"{qid}: placed on hold\n"), r.stderr)
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": placed on hold", 5))
        self.assertEqual(self.queue("hold", qid).stdout, f"{qid}: unchanged (already on hold)\n")
        self.assertIn(f"{qid}!", self.queue("list").stdout)
        self.assertEqual(self.srv.stop(), 0)
        self.srv.restart()
        held = {i["queue_id"]: i["queue_name"] for i in self.listing()}
        self.assertEqual(held[qid], "hold", held)
        # A flush does not touch held mail; the others go out once the peer accepts.
        self.failing = False
        self.assertEqual(self.queue("flush").returncode, 0)
        for qid2 in self.ids[1:]:
            self.assertEqual(o.wait_queue_clear(self.srv, qid2.encode(), 15), [], self.diag())
        self.assertEqual([i["queue_id"] for i in self.listing()], [qid])
        r = self.queue("release", qid)
        self.assertEqual(r.stdout, f"{qid}: released from hold\n", r.stderr)
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 15), self.diag())
        # The delivery's line comes before the state write (as Postfix's smtp before qmgr's
        # removal): the item leaves the listing with "removed".
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": removed$", 5), self.diag())
        self.assertEqual(self.listing(), [])

    def test_delete_and_bounce(self):
        gone, bounced = self.ids[0], self.ids[2]
        r = self.queue("delete", gone)
        self.assertEqual(r.stdout, f"{gone}: deleted\n", r.stderr)
        self.assertIsNotNone(self.srv.wait_log(re.escape(gone) +
                                               r": removed \(deleted by the administrator\)", 5))
        r = self.queue("bounce", bounced)
        self.assertEqual(r.stdout, f"{bounced}: returned to the sender\n", r.stderr)
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(CAROL, "expired", bounced), 10),
                             self.diag())
        [dsn] = o.wait_dsns(self.srv, ALICE, 1, 10, "failed")
        rcpt = dsn.recipient(CAROL)
        self.assertEqual(rcpt.get("status"), "4.4.7")
        self.assertIn("expired by the administrator", rcpt.get("diagnostic-code", ""))
        self.assertEqual([i["queue_id"] for i in self.listing()], [self.ids[1]])
        self.assertEqual(len(o.dsns(self.srv, ALICE)), 1)  # none for the deleted one

    def test_requeue_from_stdin_delivers_before_the_retry_time(self):
        self.failing = False
        r = self.queue("requeue", "-", stdin=f"{self.ids[0]}\n{self.ids[1]} \n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, f"{self.ids[0]}: requeued\n{self.ids[1]}: requeued\n")
        for qid in self.ids[:2]:
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 10),
                                 self.diag())
            self.assertEqual(o.wait_queue_clear(self.srv, qid.encode(), 10), [], self.diag())
            self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + r": removed$", 5),
                                 self.diag())
        self.assertEqual([i["queue_id"] for i in self.listing()], [self.ids[2]])

    def test_mailq_is_the_listing(self):
        """The binary called as mailq (a symlink, as Debian's /usr/bin/mailq) lists the queue;
        -C names the configuration, as sendmail's flag does."""
        link = self.srv.dir / "mailq"
        link.symlink_to(h.taube_bin())
        r = subprocess.run([str(link), "-C", str(self.srv.config_path)], cwd=self.srv.dir,
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, self.queue("list").stdout)
        self.assertEqual(subprocess.run([str(link), "--frob"], capture_output=True).returncode,
                         64)

    def test_errors(self):
        r = self.queue("hold", "NOSUCHID", self.ids[0])
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, f"NOSUCHID: not in the queue\n{self.ids[0]}: placed on hold\n")
        r = self.queue("show", "NOSUCHID")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not in the queue", r.stderr)
        self.assertEqual(self.queue("frobnicate").returncode, 1)
        self.assertEqual(self.queue("show").returncode, 64)
        self.assertEqual(self.srv.stop(), 0)
        r = self.queue("list")
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn("cannot reach the server", r.stderr)


if __name__ == "__main__":
    unittest.main()

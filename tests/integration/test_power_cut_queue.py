"""Power cuts of the outbound queue (issue 14): "every acknowledged message is delivered or
bounced, none vanishes", on crashfs (tests/crashfs), where whatever was not fsynced is gone
after the cut. The queue directory and the mail root (the local sender's bounces) are on it.

Relay clients (from 127.0.0.1, a [relay] network) submit uniquely marked messages from the local
user alice@example.org to recipients at remote.test, routed to an SmtpPeer on 127.0.0.2.
Scenarios, each a cut -> kill -9 -> remount -> restart -> check cycle (tests/crashfs/queue_cut.py):

1. Queueing: the peer is down (port closed), so everything acknowledged stays queued; cuts at
   random moments, right after a client saw a 250, and armed at the N-th sync-class call (after
   it, or instead of it). After each cut every acknowledged message must still be a complete
   queue item. At the end the peer comes up: each arrives exactly once (it was never handed
   over before, so a duplicate would be a bug too), complete; the queue drains with no files
   left in new/, env/, tmp/, corrupt/.
2. Delivery: the peer accepts; cuts at random moments under load, and armed from the peer's
   end of data (the N-th sync after/instead of it: the window between the peer's 250 and
   Taube's removal of the item). Every acknowledged message arrives at least once. SMTP is
   at-least-once (RFC 5321 §6.1, §4.5.4): a cut after the peer's 250 and before the removal is
   durable repeats the delivery, so duplicates are allowed and counted; a loss is a bug.
3. Bounces: the peer answers 550 to every x*@remote.test; the DSN goes to alice's Maildir on
   the crashfs (queued before the envelope says "failed", src/net/queue_runner.cpp). Cuts at
   random moments and armed from the 550. Every failed recipient of an acknowledged message
   gets a bounce (duplicates counted, allowed: notice first, then the envelope), every other
   one arrives; none both, none neither. Also with the delivery journal (long form), and for
   the first bounce to a sender without a Maildir (every sync after the 550, each on a fresh
   file system).
4. Expiry: the peer stays down, max_lifetime is 2 s: every message bounces as it expires.
5. The checks have teeth: with every file fsync, or every directory fsync, dropped by the shim
   (CRASHFS_DROP), acknowledged items are lost at the first cut.
Scenario 1 runs with O_TMPFILE and with named temp files (crashfs --no-tmpfile).

Each scenario prints a MEASURE line (cuts, acked, delivered, duplicates, lost). Short form a
handful of cuts each; TAUBE_POWER_CUT=long (make crash) dozens. Needs root and /dev/fuse (exit
77 otherwise). TAUBE_CRASH_SEED repeats a run.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crashfs"))
import crashfs  # noqa: E402
import harness as h  # noqa: E402
import power_cut as pc  # noqa: E402
import queue_cut as qc  # noqa: E402
from taubetest import robust as rh  # noqa: E402

LONG = os.environ.get("TAUBE_POWER_CUT") == "long"
RANDOM_CUTS = 16 if LONG else 2
ACK_CUT_EVERY = 4 if LONG else 2
SWEEP = 8 if LONG else 3          # armed cuts at sync 1..SWEEP, after and instead of it
ROUNDS = 6 if LONG else 1         # armed sweeps from the peer's reply (scenarios 2 and 3)
DELIVERY_SYNCS = 2  # after the peer's 250: fsyncdir of queue/new/, queue/env/
BOUNCE_SYNCS = 4  # after its 550: the DSN's fsync and new/, then the item's new/, env/
FIRST_BOUNCE_SYNCS = 7
EXPIRY_ARMED = 10 if LONG else 3
BOB, CAROL = "bob@remote.test", "carol@remote.test"
VERBOSE = bool(os.environ.get("TAUBE_CRASH_VERBOSE"))  # a line per cut
T0 = time.monotonic()


def reject_x(addr: str, n: int):
    return "550 5.1.1 no such user here" if addr.lower().startswith("x") else None


class QRunner:
    def __init__(self, workdir: Path, peer_up: bool, journal: bool = False, rcpt=None,
                 sender_maildir: bool = True, tmpfile: bool = True, drop: str = "",
                 queue: dict | None = None):
        self.fs = crashfs.CrashFs(workdir, tmpfile=tmpfile)
        self.fs.mount()
        (self.fs.mnt / "mail").mkdir()
        for sub in ("tmp", "new", "cur") if sender_maildir else ():
            (self.fs.mnt / "mail" / "example.org" / "alice" / sub).mkdir(parents=True)
        self.fs.sync()
        self.peer = qc.SmtpPeer(port=qc.free_port("127.0.0.2"), rcpt=rcpt)
        if not peer_up:
            self.peer.stop()
        self.srv = None
        self.srv = qc.QueueServer(self.fs, self.peer.port, journal, drop, queue)
        self.ledger = pc.Ledger()
        self.stats = pc.Stats()
        self.last = qc.Account()
        self.settle = 8.0  # how long check() waits for a missing recipient to turn up
        self.fs.events()

    def close(self) -> None:
        try:
            self.peer.stop()
            if self.srv:
                self.srv.cleanup()
        finally:
            self.fs.cleanup()

    def check(self, label: str, settle: float | None = None) -> qc.Account:
        """Every acked recipient queued, delivered or bounced; retried for `settle` seconds
        (the journal publishes a bounce a moment after its 250)."""
        deadline = time.monotonic() + (self.settle if settle is None else settle)
        while True:
            a = qc.account(self.srv, self.peer, self.ledger.snapshot())
            if not a.bad() or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if a.bad():
            self.stats.violations.append((label, a.summary(), a.lost[:3], a.partial[:3],
                                          a.both[:3]))
        self.last = a
        return a

    def after_cut(self, load: qc.Load | None, label: str) -> None:
        self.stats.cuts += 1
        if load:
            load.gate.clear()
            load.wait_idle()
        self.srv.kill9()
        self.fs.remount()
        try:
            self.srv.restart()
        except pc.StartFailed as e:
            self.stats.restart_failures.append(str(e)[:2000])
            raise
        a = self.check(label)
        if VERBOSE:
            print(f"{time.monotonic() - T0:7.2f}s {label}: {a.summary()}", file=sys.stderr)
        self.fs.events()
        if load:
            load.gate.set()

    def random_cuts(self, n: int, rng: random.Random, rcpts_of, ack_cut_every: int,
                    threads: int = 3, pace: float = 0.02) -> None:
        fired = threading.Event()
        armed = [False]
        lock = threading.Lock()

        def cut_on_ack(_rec) -> None:
            with lock:
                if not armed[0]:
                    return
                armed[0] = False
            self.fs.cut_quietly()
            fired.set()

        load = qc.Load(lambda: self.srv.port, self.ledger, rng.randrange(1 << 30), rcpts_of,
                       threads, tag=f"r{self.stats.cuts}", pace=pace)
        try:
            for k in range(n):
                time.sleep(rng.uniform(0.2, 0.8))
                ack = bool(ack_cut_every) and k % ack_cut_every == ack_cut_every - 1
                if ack:
                    fired.clear()
                    armed[0] = True
                    load.on_ack = cut_on_ack
                    if not fired.wait(15):
                        raise AssertionError("no 250 within 15 s")
                    load.on_ack = None
                    self.stats.ack_cuts += 1
                else:
                    self.fs.cut()
                    self.stats.random_cuts += 1
                    pc.Runner.note_cut_point(self)
                self.after_cut(load, f"{'ack' if ack else 'random'} cut {k + 1}")
            time.sleep(0.3)
        finally:
            load.join()

    def one(self, tag: str, rng: random.Random, rcpts: list[str]) -> qc.QRecord:
        rec = qc.QRecord(tag, qc.make_message(tag, rng, rcpts), rcpts)
        self.ledger.add(rec)
        qc.submit(self.srv.port, rec)
        return rec

    def armed_sweep(self, calls: int, rng: random.Random, rcpts_of) -> None:
        """Scenario 1: cut at the N-th sync-class call from now, one message at a time."""
        for n in range(1, calls + 1):
            for after in (True, False):
                self.fs.events()
                self.fs.arm(n, after=after)
                for k in range(6):
                    tag = f"q-a{self.stats.cuts}-{n}{'a' if after else 'b'}-{k}"
                    self.one(tag, rng, rcpts_of(rng, tag))
                    time.sleep(0.05)
                    if self.fs.dead():
                        break
                if not self.fs.dead():
                    self.fs.disarm()
                    continue
                self.stats.armed_cuts += 1
                pc.Runner.note_cut_point(self, instead=not after)
                self.after_cut(None, f"armed cut {'after' if after else 'before'} sync {n}")

    def hooked_sweep(self, calls: int, rounds: int, rng: random.Random, rcpts_of,
                     hook: str) -> None:
        """Scenarios 2 and 3: for N = 1..calls, after and instead, hooked_cut()."""
        for rnd in range(rounds):
            for n in range(1, calls + 1):
                for after in (True, False):
                    tag = f"q-h{self.stats.cuts}-{rnd}-{n}{'a' if after else 'b'}"
                    self.hooked_cut(n, after, hook, rcpts_of(rng, tag), tag, rng)

    def hooked_cut(self, n: int, after: bool, hook: str, rcpts: list[str], tag: str,
                   rng: random.Random) -> bool:
        """Arms the cut from the peer's reply (`hook`: "data" = its end of data, "rcpt" = its
        550 to RCPT) at the N-th sync-class call Taube makes after it (after the call or
        instead of it), sends one message; if the power went, the cycle. Returns whether it
        did (Taube made fewer than N calls otherwise)."""
        once = [True]
        saved = self.peer.on_data, self.peer.on_rcpt

        def arm() -> None:
            if once[0]:
                once[0] = False
                self.fs.events()
                self.fs.arm(n, after=after)

        def rcpt(addr, k):
            reply = reject_x(addr, k)
            if reply:
                arm()
            return reply

        if hook == "data":
            self.peer.on_data = lambda t: arm()
        else:
            self.peer.on_rcpt = rcpt
        self.one(tag, rng, rcpts)
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline and not self.fs.dead():
            time.sleep(0.05)
        self.peer.on_data, self.peer.on_rcpt = saved
        if not self.fs.dead():
            self.fs.disarm()
            return False
        self.stats.armed_cuts += 1
        pc.Runner.note_cut_point(self, instead=not after)
        self.after_cut(None, f"{hook} cut {'after' if after else 'before'} sync {n}")
        return True

    def finish(self, drain: float = 90.0, peer_up: bool = True) -> tuple[qc.Account, list[str],
                                                                         int]:
        """The peer up, the queue drained, a clean stop; (final account, stray files, exit)."""
        self.peer.on_data = None
        if peer_up and self.peer._server is None:
            self.peer.start()
        t = time.monotonic()
        drained = qc.wait_drained(self.srv, drain)
        if VERBOSE:
            print(f"{time.monotonic() - T0:7.2f}s drained in {time.monotonic() - t:.1f}s",
                  file=sys.stderr)
        a = self.check("final", settle=10.0)
        rc = self.srv.stop(check=False)
        stray = qc.stray_files(self.srv.queue)
        if not drained:
            stray.insert(0, "the queue did not drain")
        self.fs.unmount()
        return a, stray, rc


def rcpts_remote(rng: random.Random, marker: str) -> list[str]:
    return [BOB] if rng.random() < 0.6 else [BOB, CAROL]


def rcpts_bounce(rng: random.Random, marker: str) -> list[str]:
    x = f"x{abs(hash(marker)) % 1000}@remote.test"
    return rng.choice([[BOB, x], [x], [x, CAROL, f"x2{abs(hash(marker)) % 97}@remote.test"]])


class PowerCutQueue(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("TAUBE_CRASH_SEED", random.randrange(1, 1 << 30)))
        self.rng = random.Random(self.seed)
        print(f"{self.id()}: seed {self.seed} (TAUBE_CRASH_SEED to repeat)", file=sys.stderr)
        self.work = Path(tempfile.mkdtemp(prefix="taube-qcut-"))
        self.addCleanup(shutil.rmtree, self.work, True)

    def conclude(self, scenario: str, r: QRunner, final: qc.Account, stray: list[str], rc: int,
                 allow_duplicates: bool) -> None:
        st = r.stats
        recs = r.ledger.snapshot()
        unacked = sum(1 for x in recs if x.status != "acked")
        rh.report("power_cut_queue", scenario=scenario, seed=self.seed, cuts=st.cuts,
                  random=st.random_cuts, after_250=st.ack_cuts, armed=st.armed_cuts,
                  acked=final.acked, unacked=unacked, delivered=final.delivered,
                  bounced=final.bounced, duplicates=final.duplicates, lost=len(final.lost),
                  partial=len(final.partial), unacked_delivered=final.unacked_delivered,
                  cut_points=";".join(f"{k.replace(' ', '_')}:{v}"
                                      for k, v in sorted(st.cut_points.items())))
        self.assertEqual(st.restart_failures, [], "the server must start after every cut")
        self.assertEqual(st.violations, [], "after some cut: (when, summary, lost, partial, "
                         "delivered and bounced)")
        self.assertEqual(final.lost, [], "acknowledged recipients neither delivered nor bounced")
        self.assertEqual(final.partial, [], "partial queue files, deliveries or bounces")
        self.assertEqual(final.both, [], "delivered and bounced")
        self.assertEqual(final.queued, 0, "still queued after the drain")
        self.assertEqual(stray, [], "files left in the queue after it drained")
        self.assertEqual(rc, 0, "exit 0 on SIGTERM after the last restart")
        if not allow_duplicates:
            self.assertEqual(final.duplicates, 0, "delivered more than once")
        self.assertGreater(final.acked, 10, "the load must have queued real traffic")

    def test_cut_while_queueing(self):
        self.run_queueing(True)

    def test_cut_while_queueing_named_temp_files(self):
        """crashfs without O_TMPFILE: DurableFile falls back to named files in tmp/. And the
        queue without its journal: every item is filed as files before its 250."""
        self.run_queueing(False, {"journal_size_mb": 0})

    def run_queueing(self, tmpfile: bool, queue: dict | None = None):
        r = QRunner(self.work, peer_up=False, tmpfile=tmpfile, queue=queue)
        try:
            # Slower clients: with the peer down the queue only grows, and every retry
            # rewrites every envelope (two syncs each).
            r.random_cuts(RANDOM_CUTS, self.rng, rcpts_remote, ACK_CUT_EVERY, 2, 0.08)
            r.armed_sweep(SWEEP, self.rng, rcpts_remote)
            self.assertEqual(r.peer.sessions(), [], "the peer was down")
            final, stray, rc = r.finish()
        finally:
            r.close()
        # Nothing was handed to the peer before the end: exactly once.
        self.conclude("queueing/" + ("O_TMPFILE" if tmpfile else "named_tmp"), r, final, stray,
                      rc, allow_duplicates=False)
        self.assertGreater(r.stats.armed_cuts, 0)

    def test_a_dropped_sync_is_caught(self):
        """The checks have teeth: a "broken build" (the shim turns a sync call into a no-op
        that succeeds: CRASHFS_DROP) loses acknowledged queue items at the first cuts right
        after a 250 (peer down, so they must all be in the queue). With the queue's journal
        the 250 waits for its fdatasync; without it for group flushes (store/group_sync.hpp:
        syncfs), not for an fsync per file or directory: those are the calls whose loss must
        be caught here."""
        # With the queue's journal (the default) a 250 waits for its fdatasync; without it
        # (journal_size_mb = 0) for the group flushes.
        for drop, queue in (("fdatasync", None), ("syncfs", {"journal_size_mb": 0})):
            with self.subTest(drop=drop):
                r = QRunner(self.work / drop, peer_up=False, drop=drop, queue=queue)
                r.settle = 0.5
                try:
                    for k in range(4):
                        try:
                            r.random_cuts(1, self.rng, rcpts_remote, 1)
                        except pc.StartFailed:
                            break
                        if r.stats.violations:
                            break
                finally:
                    r.close()
                how = r.stats.violations[0][1] if r.stats.violations else "not caught"
                rh.report("power_cut_queue_variant", drop=drop, cuts=r.stats.cuts,
                          caught="yes" if r.stats.violations or r.stats.restart_failures
                          else "no", how=how.replace(" ", "_"))
                self.assertTrue(r.stats.violations or r.stats.restart_failures,
                                f"dropping {drop} went unnoticed after {r.stats.cuts} cuts")

    def test_cut_during_delivery(self):
        r = QRunner(self.work, peer_up=True)
        try:
            r.random_cuts(RANDOM_CUTS, self.rng, rcpts_remote, ACK_CUT_EVERY)
            r.hooked_sweep(DELIVERY_SYNCS, ROUNDS, self.rng, rcpts_remote, "data")
            final, stray, rc = r.finish()
        finally:
            r.close()
        self.conclude("delivery", r, final, stray, rc, allow_duplicates=True)
        self.assertGreater(final.delivered, 0)

    def run_bounces(self, journal: bool) -> None:
        r = QRunner(self.work, peer_up=True, journal=journal, rcpt=reject_x)
        try:
            r.random_cuts(RANDOM_CUTS, self.rng, rcpts_bounce, ACK_CUT_EVERY)
            r.hooked_sweep(BOUNCE_SYNCS, ROUNDS, self.rng, rcpts_bounce, "rcpt")
            final, stray, rc = r.finish()
        finally:
            r.close()
        self.conclude(f"bounces/journal={'on' if journal else 'off'}", r, final, stray, rc,
                      allow_duplicates=True)
        self.assertGreater(final.bounced, 0)

    def test_cut_while_bouncing(self):
        self.run_bounces(False)

    def test_cut_while_expiring(self):
        """The peer stays down and [queue] max_lifetime is 2 s: every message expires and
        bounces (QueueRunner::expire, the same commit_applied: notice, then removal) while
        cuts fall at random and right after 250s."""
        r = QRunner(self.work, peer_up=False, queue={"max_lifetime": 2})
        try:
            r.random_cuts(RANDOM_CUTS, self.rng, rcpts_remote, ACK_CUT_EVERY)
            # Armed: three messages, then a cut at the N-th sync-class call from there on,
            # N past their deferrals (each rewrites its envelope) into their expiry.
            for n in range(1, EXPIRY_ARMED + 1):
                for k in range(3):
                    tag = f"q-e{r.stats.cuts}-{n}-{k}"
                    r.one(tag, self.rng, rcpts_remote(self.rng, tag))
                # Each is deferred once (2 syncs) before it expires (4: DSN, removal).
                r.fs.events()
                r.fs.arm(6 + n, after=n % 2 == 1)
                deadline = time.monotonic() + 8
                while time.monotonic() < deadline and not r.fs.dead():
                    time.sleep(0.05)
                if not r.fs.dead():
                    r.fs.disarm()
                    continue
                r.stats.armed_cuts += 1
                pc.Runner.note_cut_point(r, instead=n % 2 == 0)
                r.after_cut(None, f"expiry cut at sync {6 + n}")
            final, stray, rc = r.finish(peer_up=False)
        finally:
            r.close()
        self.conclude("expiry", r, final, stray, rc, allow_duplicates=True)
        self.assertEqual(final.delivered, 0)
        self.assertEqual(final.bounced, sum(len(x.rcpts) for x in r.ledger.snapshot()
                                            if x.status == "acked"))

    def test_first_bounce_creates_the_senders_maildir(self):
        """The sender has no Maildir yet: the bounce creates it (MaildirStore::ensure_maildir
        must make the new directories durable, finding P1 in docs/robustness.md) before the
        envelope says "failed" and the item is removed. A fresh file system for each N."""
        cuts = dups = 0
        # After the 550: fsyncdir of example.org/, mail/, alice/ (the new directories), fsync
        # of the DSN, fsyncdir of alice/new/, then the item's removal: queue/new/, queue/env/.
        for n in range(1, FIRST_BOUNCE_SYNCS + 1):
            for after in (True, False):
                with self.subTest(n=n, after=after):
                    work = self.work / f"{n}{'a' if after else 'b'}"
                    # The queue's file path (no queue journal): the syncs counted above.
                    r = QRunner(work, peer_up=True, rcpt=reject_x, sender_maildir=False,
                                queue={"journal_size_mb": 0})
                    try:
                        tag = f"q-first-{n}{'a' if after else 'b'}"
                        cut = r.hooked_cut(n, after, "rcpt", ["x1@remote.test"], tag, self.rng)
                        final, stray, rc = r.finish()
                    finally:
                        r.close()
                    cuts += cut
                    self.assertTrue(cut, "the sync was reached")
                    dups += final.duplicates
                    self.assertEqual(r.stats.violations, [])
                    self.assertEqual((final.acked, final.bounced, final.lost), (1, 1, []))
                    self.assertEqual(stray, [])
        rh.report("power_cut_queue", scenario="first_bounce", seed=self.seed, cuts=cuts,
                  acked=2 * FIRST_BOUNCE_SYNCS, bounced=2 * FIRST_BOUNCE_SYNCS, duplicates=dups,
                  lost=0)

    def test_no_transcript_left_by_a_cut_after_the_removal(self):
        """A delivery attempt's transcript (transcripts/NAME, not fsynced: information for the
        operator) can still become durable with a later rename out of tmp/ (the envelope's
        update). A cut after the item's removal then brings back the transcript of an item that
        is gone; the next scan() must remove it, or such files pile up. Found by
        test_cut_while_bouncing_with_journal (a stray file after the drain)."""
        grey = "grey@remote.test"
        # The file path (no queue journal): the sync counted below is its removal's.
        r = QRunner(self.work, peer_up=True, queue={"journal_size_mb": 0},
                    rcpt=lambda addr, n: "451 4.7.1 greylisted" if n == 1 else None)
        try:
            once = [True]

            def arm(_t):
                if once[0]:
                    once[0] = False
                    r.fs.events()
                    r.fs.arm(2, after=True)  # the removal's fsync of queue/env/

            # The first attempt ends at RCPT (451: the envelope is rewritten, the transcript
            # saved); the first end of data is the retry's, moments later.
            r.peer.on_data = arm
            rec = r.one("q-transcript-1", self.rng, [grey])
            self.assertEqual(rec.status, "acked")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not r.fs.dead():
                time.sleep(0.05)
            self.assertTrue(r.fs.dead(), "the retry was delivered and the cut came"
                            + qc.o.diag(r.srv, r.peer))
            transcripts = r.srv.queue / "transcripts"
            r.after_cut(None, "after the removal")
            left = [p.name for p in transcripts.iterdir()]
            final, stray, rc = r.finish()
        finally:
            r.close()
        self.assertEqual(left, [], "transcripts of removed items after the restart")
        self.assertEqual(stray, [])
        self.assertEqual((final.acked, final.delivered, final.lost), (1, 1, []))

    @unittest.skipUnless(LONG, "the journal variant runs in the long form")
    def test_cut_while_bouncing_with_journal(self):
        self.run_bounces(True)


if __name__ == "__main__":
    reason = crashfs.skip_reason()
    if reason:
        print(f"SKIP: {reason}", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()

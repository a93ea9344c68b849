"""Metrics of the queue and the disk (docs/metrics.md), each moved by doing what it counts, on
a real taube with [metrics] listen: the queue per state (incoming, active, deferred, hold) and
the oldest message's age in each, `taube queue hold`'s time on hold (across a restart), the
journals' commits and batch sizes, outbound connections by result (refused, timeout,
tls_failed, ok) with TLS handshakes out and their log line, and the disk pool's backlog on a slow
disk. Each scrape is checked by `promtool check metrics`."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.prom import (delta, metrics_port, promtool_check, scrape_port,  # noqa: E402
                            value, wait_scrape)
from taubetest.smtp_peer import SmtpPeer, free_port, make_cert  # noqa: E402


class QueueStates(unittest.TestCase):
    """The queue's gauges per state (incoming, active, deferred, hold) and the oldest message's
    age in each, the journals' commits and batch sizes, and the disk pool, on a queue whose one
    destination answers 451 (Postfix's deferred queue) and holds its end of data for a while
    (the attempt is seen running: active)."""

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="taube-mq-"))
        self.addCleanup(shutil.rmtree, self.work, True)
        self.peer = SmtpPeer(rcpt=lambda addr, n: "451 4.7.1 try later", delay={"RCPT": 1.5})
        self.addCleanup(self.peer.stop)
        # No retry within the test: only the test's commands move the mail.
        # Fixed ports: the test restarts the server.
        self.port = h.free_port()
        self.srv = o.start({o.REMOTE: o.route(self.peer)}, port=h.free_port(),
                           queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600},
                           extra={"metrics": {"listen": f"127.0.0.1:{self.port}"}})
        o.guard(self, self.srv)
        self.assertEqual(metrics_port(self.srv), self.port)

    def state(self, m: dict, state: str) -> float:
        return value(m, "taube_queue_messages", state=state)

    def queue(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([h.taube_bin(), "queue", "-c", str(self.srv.config_path), *args],
                              cwd=self.srv.dir, capture_output=True, text=True, timeout=30)

    def test_states_oldest_age_hold_and_commits(self):
        before = scrape_port(self.port)
        for st in ("incoming", "active", "deferred", "hold"):
            self.assertEqual(self.state(before, st), 0, st)
            self.assertEqual(value(before, "taube_queue_oldest_message_age_seconds", state=st), 0)
        self.assertEqual(value(before, "taube_queue_hold_oldest_seconds"), 0)
        self.assertGreater(value(before, "taube_disk_pool_threads"), 0)
        self.assertEqual(value(before, "taube_disk_pool_jobs", state="queued"), 0)
        qid = o.submit(self.srv, o.ALICE, [o.BOB], o.message("mq-1"))
        # The attempt is running (the peer takes 1.5 s to answer the RCPT): active.
        m = wait_scrape(self.port, lambda m: self.state(m, "active") == 1, 5)
        self.assertEqual(self.state(m, "active"), 1, self.srv.log_text()[-3000:])
        self.assertEqual(sum(self.state(m, st) for st in ("incoming", "deferred", "hold")), 0)
        # 451: deferred, until the retry in 5 minutes.
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(o.BOB, "deferred", qid), 10))
        m = wait_scrape(self.port, lambda m: self.state(m, "deferred") == 1, 5)
        self.assertEqual((self.state(m, "deferred"), self.state(m, "active")), (1, 0))
        time.sleep(1.1)
        m = scrape_port(self.port)
        age = value(m, "taube_queue_oldest_message_age_seconds", state="deferred")
        self.assertGreaterEqual(age, 2)  # 1.5 s of attempt and 1.1 s of sleep, in whole seconds
        self.assertLess(age, 30)
        self.assertEqual(value(m, "taube_queue_oldest_message_age_seconds", state="active"), 0)

        # On hold (taube queue hold): counted under hold, with the time since it was held.
        r = self.queue("hold", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = wait_scrape(self.port, lambda m: self.state(m, "hold") == 1, 5)
        self.assertEqual((self.state(m, "hold"), self.state(m, "deferred")), (1, 0))
        self.assertGreaterEqual(value(m, "taube_queue_oldest_message_age_seconds", state="hold"),
                                age)
        time.sleep(2.1)
        m = scrape_port(self.port)
        held_for = value(m, "taube_queue_hold_oldest_seconds")
        self.assertGreaterEqual(held_for, 2)
        self.assertLess(held_for, age + 10)
        # `taube queue list --json` says the same.
        listing = [json.loads(line) for line in self.queue("list", "--json").stdout.splitlines()]
        self.assertEqual([i["queue_name"] for i in listing], ["hold"])
        # The queue journal took the message (one record per group commit here), and the
        # envelope rewrites (the deferral, the hold) were flushed as queue files.
        d = delta(before, m)
        commits = value(m, "taube_journal_commits_total", journal="queue", result="ok")
        self.assertGreaterEqual(commits, 1, [k for k in m if k[0].startswith("taube_journal")])
        self.assertEqual(value(m, "taube_journal_commit_batch_size_count", journal="queue"),
                         commits)
        self.assertGreaterEqual(value(m, "taube_journal_commit_batch_size_sum", journal="queue"),
                                1)
        self.assertEqual(value(m, "taube_journal_commit_batch_size_bucket", journal="queue",
                               le="1"), commits)  # one message at a time
        self.assertGreaterEqual(value(m, "taube_journal_commits_total", journal="queue_files",
                                      result="ok"), 1)
        self.assertEqual(value(m, "taube_journal_commits_total", journal="queue",
                               result="failed"), 0)
        # The disk pool did the work (at least the attempt's outcome and the hold written);
        # none waits now.
        self.assertGreaterEqual(value(m, "taube_disk_pool_jobs_total")
                                - value(before, "taube_disk_pool_jobs_total"), 2)
        self.assertEqual(value(m, "taube_disk_pool_jobs", state="queued"), 0)
        self.assertEqual(value(d, "taube_outbound_connections_total", result="ok"), 1)

        # After a restart the queue is loaded from its files (kept as text, not decoded): still
        # counted on hold, since the same moment.
        self.assertEqual(self.srv.stop(), 0)
        self.srv.restart()
        m = wait_scrape(self.port, lambda m: self.state(m, "hold") == 1, 10)
        self.assertEqual((self.state(m, "hold"), self.state(m, "deferred")), (1, 0))
        self.assertGreaterEqual(value(m, "taube_queue_hold_oldest_seconds"), held_for)
        self.assertLess(value(m, "taube_queue_hold_oldest_seconds"), held_for + 15)
        before = scrape_port(self.port)  # the counters started again

        # Released: due at once, tried (active), deferred again; nothing left on hold.
        r = self.queue("release", qid)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = wait_scrape(self.port, lambda m: self.state(m, "deferred") == 1
                        and value(m, "taube_deliveries_total", status="deferred",
                                  dsn_class="4") == 1, 10)
        self.assertEqual(self.state(m, "hold"), 0)
        self.assertEqual(value(m, "taube_queue_hold_oldest_seconds"), 0)
        # This incarnation's counters: the second attempt only.
        # (The delay histograms move too, and the connection may still be open, idle.)
        d = {k: v for k, v in delta(before, m).items() if not k[0].startswith((
            "taube_delivery_delay_seconds", "taube_delivery_stage_delay_seconds",
            "taube_outbound_connections_open"))}
        self.assertEqual(d, {
            ("taube_queue_messages", (("state", "hold"),)): -1,
            ("taube_queue_messages", (("state", "deferred"),)): 1,
            ("taube_deliveries_total", (("dsn_class", "4"), ("status", "deferred"))): 1,
            ("taube_delivery_attempts_total", (("attempt", "2"), ("status", "deferred"))): 1,
            ("taube_outbound_connections_total", (("result", "ok"),)): 1,
        })

        promtool_check(self, self.port)

    def test_delivery_journal_commits(self):
        # A local mailbox: the delivery journal (journal_path, on by default) commits it.
        before = scrape_port(self.port)
        self.assertIn(("taube_journal_commits_total", (("journal", "delivery"), ("result", "ok"))),
                      before, "no delivery journal in the default configuration?")
        for i in range(3):
            o.submit(self.srv, o.BOB, [o.ALICE], o.message(f"mq-local-{i}"))
        m = wait_scrape(self.port, lambda m: value(m, "taube_journal_commits_total",
                                                   journal="delivery", result="ok")
                        - value(before, "taube_journal_commits_total", journal="delivery",
                                result="ok") >= 3, 5)
        d = delta(before, m)
        self.assertEqual(value(m, "taube_journal_commits_total", journal="delivery", result="ok")
                         - value(before, "taube_journal_commits_total", journal="delivery",
                                 result="ok"), 3)  # one transaction after the other
        self.assertEqual(value(m, "taube_journal_commit_batch_size_sum", journal="delivery")
                         - value(before, "taube_journal_commit_batch_size_sum",
                                 journal="delivery"), 3)
        self.assertEqual(value(d, "taube_smtp_recipients_total", destination="mailbox"), 3)


class OutboundConnections(unittest.TestCase):
    """taube_outbound_connections_total by result, and TLS handshakes out: a next hop whose port
    is closed (refused), one that never accepts (timeout), one whose STARTTLS breaks
    (tls_failed, then the opportunistic retry in plaintext: ok, RFC 7435), and one that speaks
    TLS (ok, a handshake out by version)."""

    def test_refused_timeout_tls_failed_and_ok(self):
        work = Path(tempfile.mkdtemp(prefix="taube-mo-"))
        self.addCleanup(shutil.rmtree, work, True)
        closed = free_port("127.0.0.2")  # nothing listens there
        # A listener that never accepts, its backlog (0) filled by one connection: the kernel
        # drops further SYNs, so a connect hangs until connect_timeout.
        stuck = socket.socket()
        self.addCleanup(stuck.close)
        stuck.bind(("127.0.0.2", 0))
        stuck.listen(0)
        filler = socket.create_connection(stuck.getsockname(), timeout=5)
        self.addCleanup(filler.close)
        broken = SmtpPeer(tls=make_cert(work), tls_fault="close")
        self.addCleanup(broken.stop)
        good = SmtpPeer(tls=make_cert(work, "good.test"))
        self.addCleanup(good.stop)
        srv = o.start({"refused.test": f"smtp:[127.0.0.2]:{closed}",
                       "stuck.test": f"smtp:[127.0.0.2]:{stuck.getsockname()[1]}",
                       "tlsbad.test": o.route(broken), o.REMOTE: o.route(good)},
                      queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600},
                      outbound={"connect_timeout": 1},
                      extra={"metrics": {"listen": "127.0.0.1:0"}})
        o.guard(self, srv)
        port = metrics_port(srv)
        before = scrape_port(port)
        q1 = o.submit(srv, o.ALICE, ["x@refused.test"], o.message("mo-1"))
        self.assertIsNotNone(srv.wait_log(o.status_rx("x@refused.test", "deferred", q1), 10))
        q4 = o.submit(srv, o.ALICE, ["z@stuck.test"], o.message("mo-4"))
        self.assertIsNotNone(srv.wait_log(o.status_rx("z@stuck.test", "deferred", q4), 10))
        self.assertRegex(srv.log_text(), re.escape(q4) + r": to=<z@stuck\.test>.*timed out")
        q2 = o.submit(srv, o.ALICE, ["y@tlsbad.test"], o.message("mo-2"))
        self.assertIsNotNone(srv.wait_log(o.status_rx("y@tlsbad.test", "sent", q2), 10),
                             srv.log_text()[-3000:])
        q3 = o.submit(srv, o.ALICE, [o.BOB], o.message("mo-3"))
        self.assertIsNotNone(srv.wait_log(o.status_rx(o.BOB, "sent", q3), 10))
        m = wait_scrape(port, lambda m: value(m, "taube_outbound_connections_total",
                                              result="ok") - value(
            before, "taube_outbound_connections_total", result="ok") >= 2, 5)
        d = delta(before, m)
        got = {k: v for k, v in d.items() if k[0] in (
            "taube_outbound_connections_total", "taube_tls_handshakes_total",
            "taube_tls_handshake_failures_total")}
        self.assertEqual(got, {
            ("taube_outbound_connections_total", (("result", "refused"),)): 1,
            ("taube_outbound_connections_total", (("result", "timeout"),)): 1,
            ("taube_outbound_connections_total", (("result", "tls_failed"),)): 1,
            ("taube_outbound_connections_total", (("result", "ok"),)): 2,
            ("taube_tls_handshake_failures_total", (("direction", "out"),)): 1,
            ("taube_tls_handshakes_total", (("direction", "out"), ("version", "TLSv1.3"))): 1,
        }, srv.log_text()[-3000:])
        # The log says it as Postfix's smtp does, once, for the TLS connection only.
        lines = re.findall(r" Untrusted TLS connection established to "
                           r"(\S+): (TLSv1\.3) with cipher \S+$", srv.log_text(), re.M)
        self.assertEqual(lines, [(f"127.0.0.2[127.0.0.2]:{good.port}", "TLSv1.3")],
                         srv.log_text()[-3000:])
        promtool_check(self, port)


class DiskPool(unittest.TestCase):
    """The disk pool's backlog: Taube with one worker thread on a slow disk (an LD_PRELOAD shim,
    tests/support/slow_disk_preload.cpp, adds 300 ms to every fdatasync/fsync); six messages
    arriving at once wait for the thread, and the scrape sees them queued."""

    def test_backlog_seen_while_the_disk_is_slow(self):
        lib = os.environ.get("SLOW_DISK_PRELOAD") or str(
            Path(h.taube_bin()).parent / "tests" / "libslow_disk_preload.so")
        if not Path(lib).is_file():
            self.skipTest(f"slow-disk shim not built ({lib})")
        env = dict(os.environ)
        env["LD_PRELOAD"] = lib
        env["TAUBE_SLOW_SYNC_MS"] = "300"
        # A sanitizer build insists on its runtime coming first; the shim has no instrumentation.
        env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS"),
                                                   "verify_asan_link_order=0") if x)
        srv = h.Taube(o.config(extra={"server": {"worker_threads": 1},
                                      "metrics": {"listen": "127.0.0.1:0"}}),
                      env=env, start_timeout=30)
        o.guard(self, srv)
        port = metrics_port(srv)
        before = scrape_port(port)
        self.assertEqual(value(before, "taube_disk_pool_threads"), 1)
        errors = []

        def send(i):
            try:
                o.submit(srv, o.BOB, [o.ALICE], o.message(f"slow-{i}"))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        busy = wait_scrape(port, lambda m: value(m, "taube_disk_pool_jobs",
                                                 state="queued") >= 1, 10)
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertGreaterEqual(value(busy, "taube_disk_pool_jobs", state="queued"), 1,
                                srv.log_text()[-2000:])
        # One thread: at most one job on it (none for the instant between two jobs).
        self.assertLessEqual(value(busy, "taube_disk_pool_jobs", state="running"), 1)
        after = wait_scrape(port, lambda m: value(m, "taube_disk_pool_jobs", state="queued") == 0
                            and value(m, "taube_disk_pool_jobs", state="running") == 0, 10)
        self.assertEqual(value(after, "taube_disk_pool_jobs", state="queued"), 0)
        self.assertGreaterEqual(value(after, "taube_disk_pool_jobs_total")
                                - value(before, "taube_disk_pool_jobs_total"), 6)
        self.assertEqual(value(after, "taube_smtp_transactions_total", result="accepted"), 6)
        promtool_check(self, port)


if __name__ == "__main__":
    h.main("promtool", "openssl")

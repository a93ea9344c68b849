"""Metrics (docs/metrics.md): the real taube with [metrics] listen on an ephemeral loopback port.
The test does the things each metric family counts (an accepted local message, refused RCPTs,
a TLS session with a failed AUTH, relayed mail delivered, deferred and bounced by a recording
SmtpPeer), scrapes /metrics with urllib and asserts that every value moved by exactly what was
done; `promtool check metrics` (Debian prometheus) accepts the text, `promtool check rules` the
shipped alert rules, and a private Prometheus server scrapes Taube once. The HTTP listener's
robustness: long request lines (431), a slowloris client (408 and closed), HEAD/POST (405),
unknown paths (404), keep-alive, and a config that puts it on an SMTP port (refused, naming the
key and line)."""

import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.prom import (METRICS_RX, delta, metrics_port, parse, queued,  # noqa: E402
                            value)
from taubetest.smtp_peer import SmtpPeer, make_cert  # noqa: E402

RELAY_CLIENT = "127.0.0.3"  # the one address in [relay] networks
ALICE = s.ALICE  # local user with a password (security.write_users)
ALERTS = Path(h.SOURCE_DIR) / "etc" / "prometheus" / "taube-alerts.yml"

def start_server(peer: SmtpPeer, work: Path, extra: dict | None = None) -> h.Taube:
    users = work / "users"
    s.write_users(users)
    # idle_time: a connection to the peer stays open 3 s after its last message (the gauge of
    # open outbound connections is read then).
    cfg = o.config({o.REMOTE: o.route(peer)}, relay={"networks": [RELAY_CLIENT + "/32"]},
                   queue={"idle_time": 3},
                   extra=h.merge({
                       "tls": {"certificate": str(work / "cert.pem"),
                               "key": str(work / "key.pem"), "self_signed": True},
                       "auth": {"users_file": str(users), "failure_delay": 0,
                                "max_failures": 1000},
                       "metrics": {"listen": "127.0.0.1:0", "request_timeout": 1},
                       # Known users only (else any local part is accepted): unknown ones get
                       # 550 5.1.1.
                       "users": {ALICE: "", s.BOB: ""},
                   }, extra))
    return h.Taube(cfg, start_timeout=20)


class Metrics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = Path(tempfile.mkdtemp(prefix="taube-metrics-"))
        # bob: delivered; carol: 451 on the first try, then delivered; nobody: 550 (bounced).
        # The peer offers STARTTLS: the queue's connection to it is TLS (opportunistic).
        cls.peer = SmtpPeer(tls=make_cert(cls.work), rcpt=lambda addr, n: (
            "550 5.1.1 no such user" if addr.startswith("nobody@")
            else "451 4.3.0 try again" if addr.startswith("carol@") and n == 1 else None))
        cls.srv = start_server(cls.peer, cls.work)
        cls.port = metrics_port(cls.srv)

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.peer.stop()
        shutil.rmtree(cls.work, ignore_errors=True)

    def scrape_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            return r.read().decode()

    def scrape(self) -> dict:
        return parse(self.scrape_text())

    def listener(self) -> str:
        return f"127.0.0.1:{self.srv.port}"

    def wait_for(self, pred, timeout=15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            got = self.scrape()
            if pred(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    # -- the metrics ---------------------------------------------------------------------------

    def test_build_info_and_healthz(self):
        m = self.scrape()
        info = [k for k in m if k[0] == "taube_build_info"]
        self.assertEqual(len(info), 1, m)
        labels = dict(info[0][1])
        self.assertRegex(labels["version"], r"^\d+\.\d+\.\d+$")
        self.assertTrue(labels["git"])
        self.assertEqual(m[info[0]], 1)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
            self.assertEqual((r.status, r.read()), (200, b"ok\n"))

    def test_receiving_side_moves_exactly(self):
        before = self.scrape()
        lst = self.listener()
        # 1. an accepted message to a local mailbox
        with h.RawClient(h.HOST, self.srv.port) as c:
            c.greet()
            c.expect("250", "MAIL FROM:<someone@client.test>")
            c.expect("250", f"RCPT TO:<{ALICE}>")
            c.expect("354", "DATA")
            c.send(b"Subject: metrics\r\n\r\nhello\r\n.\r\n")
            c.expect("250")
            c.expect("221", "QUIT")
        # 2. refused RCPTs: relaying from outside [relay] networks (554), an unknown user (550)
        with h.RawClient(h.HOST, self.srv.port) as c:
            c.greet()
            c.expect("250", "MAIL FROM:<someone@client.test>")
            c.expect("554", "RCPT TO:<user@elsewhere.test>")
            c.expect("550", "RCPT TO:<nobody@example.org>")
            c.expect("221", "QUIT")
        # 3. STARTTLS and a failed AUTH inside it
        with h.RawClient(h.HOST, self.srv.port) as c:
            c.greet()
            c.starttls()
            version = c.version()
            c.ehlo()
            c.expect("535", "AUTH PLAIN " + s.plain(ALICE, "wrong password"))
            c.expect("221", "QUIT")
        # The session events of the last QUIT may still be on their way: wait for the three
        # disconnections, then compare everything.
        after = self.wait_for(lambda m: value(m, "taube_smtp_disconnections_total",
                                              listener=lst, how="quit")
                              - value(before, "taube_smtp_disconnections_total",
                                      listener=lst, how="quit") >= 3)
        d = delta(before, after)
        size = [v for k, v in d.items() if k[0] == "taube_smtp_message_size_bytes_sum"]
        self.assertEqual(len(size), 1, d)
        self.assertGreater(size[0], 20)
        expected = {
            ("taube_smtp_connections_total", (("listener", lst),)): 3,
            ("taube_smtp_disconnections_total", (("how", "quit"), ("listener", lst))): 3,
            ("taube_smtp_transactions_total", (("result", "accepted"),)): 1,
            ("taube_smtp_recipients_total", (("destination", "mailbox"),)): 1,
            ("taube_smtp_rejects_total", (("code", "554"), ("verb", "RCPT"))): 1,
            ("taube_smtp_rejects_total", (("code", "550"), ("verb", "RCPT"))): 1,
            ("taube_smtp_rejects_total", (("code", "535"), ("verb", "AUTH"))): 1,
            ("taube_smtp_auth_total", (("mechanism", "PLAIN"), ("result", "failure"))): 1,
            ("taube_tls_handshakes_total", (("direction", "in"), ("version", version))): 1,
            ("taube_smtp_message_size_bytes_count", ()): 1,
            ("taube_smtp_message_size_bytes_sum", ()): size[0],
        }
        # The one message (a few dozen octets) lands in every bucket from 1 KiB up.
        for k in after:
            if k[0] == "taube_smtp_message_size_bytes_bucket":
                expected[k] = 1
        self.assertEqual(d, expected)

    def test_delivery_side_moves_exactly(self):
        before = self.scrape()
        qid = o.submit(self.srv, ALICE, ["bob@remote.test", "carol@remote.test",
                                         "nobody@remote.test"],
                       o.message("metrics-relay"), source=RELAY_CLIENT)
        # carol waits for her retry (retry_min = 1 s): the queue holds the message meanwhile.
        waiting = self.wait_for(lambda m: value(m, "taube_deliveries_total", status="deferred",
                                                dsn_class="4") > value(
            before, "taube_deliveries_total", status="deferred", dsn_class="4"))
        self.assertEqual(queued(waiting), 1, self.srv.log_text()[-3000:])

        # Sent: bob, carol on her retry, and the bounce of nobody into the local sender's
        # Maildir (Postfix logs that one status=sent too, relay=local).
        def done(m):
            return (value(m, "taube_deliveries_total", status="sent", dsn_class="2")
                    - value(before, "taube_deliveries_total", status="sent", dsn_class="2")) >= 3 \
                and queued(m) == 0
        after = self.wait_for(done, 20)
        self.assertTrue(done(after), self.srv.log_text()[-4000:])
        time.sleep(0.3)  # nothing more is coming: a late extra count would show now
        after = self.scrape()
        d = delta(before, after)
        got = {k: v for k, v in d.items() if k[0] == "taube_deliveries_total"}
        self.assertEqual(got, {
            ("taube_deliveries_total", (("dsn_class", "2"), ("status", "sent"))): 3,
            ("taube_deliveries_total", (("dsn_class", "4"), ("status", "deferred"))): 1,
            ("taube_deliveries_total", (("dsn_class", "5"), ("status", "bounced"))): 1,
        }, self.srv.log_text()[-4000:])
        # By attempt: bob, carol's deferral and nobody's bounce on the first; carol sent on her
        # second; the bounce notice into alice's Maildir is no attempt ("local").
        got = {k: v for k, v in d.items() if k[0] == "taube_delivery_attempts_total"}
        self.assertEqual(got, {
            ("taube_delivery_attempts_total", (("attempt", "1"), ("status", "sent"))): 1,
            ("taube_delivery_attempts_total", (("attempt", "1"), ("status", "deferred"))): 1,
            ("taube_delivery_attempts_total", (("attempt", "1"), ("status", "bounced"))): 1,
            ("taube_delivery_attempts_total", (("attempt", "2"), ("status", "sent"))): 1,
            ("taube_delivery_attempts_total", (("attempt", "local"), ("status", "sent"))): 1,
        })
        # Every outcome is one observation of the total delay and of each of the four stages.
        for status, n in (("sent", 3), ("deferred", 1), ("bounced", 1)):
            self.assertEqual(value(d, "taube_delivery_delay_seconds_count", status=status), n)
        for stage in ("before_queue", "in_queue", "connection_setup", "transmission"):
            self.assertEqual(value(d, "taube_delivery_stage_delay_seconds_count", stage=stage),
                             5, stage)
            inf = value(d, "taube_delivery_stage_delay_seconds_bucket", stage=stage, le="+Inf")
            self.assertEqual(inf, 5)
        # carol was retried after >= retry_min (1 s): at most the two others are within 0.5 s,
        # and the sum of the sent delays is at least her second.
        self.assertLessEqual(value(d, "taube_delivery_delay_seconds_bucket", status="sent",
                                   le="0.5"), 2)
        self.assertEqual(value(d, "taube_delivery_delay_seconds_bucket", status="sent",
                               le="+Inf"), 3)
        self.assertGreaterEqual(value(d, "taube_delivery_delay_seconds_sum", status="sent"), 1)
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                         if k[0] == "taube_delivery_delay_seconds_bucket"
                         and dict(k[1])["status"] == "sent")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), "not cumulative")
        self.assertEqual(value(d, "taube_smtp_transactions_total", result="accepted"), 1)
        self.assertEqual(value(d, "taube_smtp_recipients_total", destination="queue"), 3)
        # Every connection the queue opened to the peer got through, and each one's STARTTLS
        # is a TLS handshake out (the peer offers TLS 1.3).
        opened = value(d, "taube_outbound_connections_total", result="ok")
        self.assertGreaterEqual(opened, 1)
        self.assertEqual({k: v for k, v in d.items() if k[0] in (
            "taube_outbound_connections_total", "taube_tls_handshakes_total")}, {
            ("taube_outbound_connections_total", (("result", "ok"),)): opened,
            ("taube_tls_handshakes_total", (("direction", "out"), ("version", "TLSv1.3"))):
                opened})
        # The connection to the peer waits (idle_time = 3 s) for more mail: open, over TLS.
        self.assertEqual(value(after, "taube_outbound_connections_open", tls="TLSv1.3"), 1,
                         self.srv.log_text()[-3000:])
        self.assertEqual(value(after, "taube_outbound_connections_opening"), 0)
        closed = self.wait_for(
            lambda m: value(m, "taube_outbound_connections_open", tls="TLSv1.3") == 0, 10)
        self.assertIn(("taube_outbound_connections_open", (("tls", "TLSv1.3"),)), closed)
        self.assertEqual(value(closed, "taube_outbound_connections_open", tls="TLSv1.3"), 0)
        self.assertTrue(any(b"metrics-relay" in (m.data or b"") for m in self.peer.messages()))
        self.assertRegex(self.srv.log_text(), re.escape(qid) + r": to=<carol@remote\.test>.*"
                                              r"status=sent")

    def test_promtool_accepts_the_exposition(self):
        # After the other tests (unittest runs them in name order, "test_p" after "test_d"),
        # every family has samples.
        text = self.scrape_text()
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                           capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode() + text)

    # -- the HTTP listener ---------------------------------------------------------------------

    def request(self, raw: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
        """Sends `raw`, returns everything the server sent and whether it closed."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as c:
            try:
                c.sendall(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass
            data = b""
            while True:
                try:
                    chunk = c.recv(65536)
                except socket.timeout:
                    return data, False
                except ConnectionResetError:
                    return data, True
                if not chunk:
                    return data, True
                data += chunk

    def test_unknown_path_404_and_methods_405(self):
        before = self.scrape()
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/nope", timeout=5)
        self.assertEqual(e.exception.code, 404)
        for method in ("HEAD", "POST", "PUT", "DELETE"):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request(method, "/metrics", body=b"x" if method == "POST" else None)
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 405, method)
            self.assertEqual(r.getheader("Allow"), "GET")
            conn.close()
        # taube_http_requests_total: the 404 under "other" (paths never become labels), the
        # four 405s under the route, and the one scrape between.
        d = delta(before, self.scrape(), http=True)
        self.assertEqual(d, {
            ("taube_http_requests_total", (("code", "404"), ("route", "other"))): 1,
            ("taube_http_requests_total", (("code", "405"), ("route", "/metrics"))): 4,
            ("taube_http_requests_total", (("code", "200"), ("route", "/metrics"))): 1,
        })

    def test_keep_alive_two_requests_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("GET", "/healthz")
        r1 = conn.getresponse()
        self.assertEqual((r1.status, r1.read()), (200, b"ok\n"))
        sock = conn.sock
        conn.request("GET", "/metrics")
        r2 = conn.getresponse()
        body = r2.read()
        self.assertEqual(r2.status, 200)
        self.assertIs(conn.sock, sock, "the second request needed a new connection")
        self.assertIn(b"taube_build_info", body)
        conn.close()
        # Pipelined: both requests in one write, both answered in order.
        data, _ = self.request(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertRegex(data, rb"(?s)^HTTP/1\.1 200 OK\r\n.*ok\n"
                               rb"HTTP/1\.1 404 Not Found\r\n.*Connection: close\r\n")

    def test_long_request_line_431_and_closed(self):
        t0 = time.monotonic()
        data, closed = self.request(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:200])
        self.assertIn(b"Connection: close\r\n", data)
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - t0, 4)

    def test_malformed_request_400(self):
        data, closed = self.request(b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data[:200])
        self.assertTrue(closed)
        data, closed = self.request(b"GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 505 "), data[:200])

    def test_garbage_never_hurts_the_server(self):
        # Random octets, truncated and mangled requests, each on its own connection: every
        # answer is a complete HTTP/1.1 error (or a close), and the server keeps serving.
        import random
        rnd = random.Random(12)
        good = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        cases = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 600)))
                 for _ in range(60)]
        for _ in range(60):
            b = bytearray(good)
            for _ in range(rnd.randrange(1, 4)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            cases.append(bytes(b))
        cases += [good[:i] for i in range(0, len(good), 7)]
        cases += [b"\r\n" * 5000, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 2000 + b"\r\n",
                  b"POST /metrics HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
                  b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
        cases = [raw + b"\r\n\r\n" if rnd.random() < 0.5 else raw for raw in cases]
        # In parallel (16 at a time): an incomplete one waits for request_timeout (1 s).
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda raw: self.request(raw, timeout=4)[0], cases))
        for raw, data in zip(cases, answers):
            if data:
                self.assertRegex(data, rb"^HTTP/1\.1 [1-5]\d\d [A-Za-z ]+\r\n", raw[:100])
        # Most of them are answered (an error, 408 for the incomplete ones), not just dropped.
        self.assertGreater(sum(1 for d in answers if d), len(cases) * 0.9)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as r:
            self.assertEqual(r.status, 200)
        self.assertIsNone(self.srv.proc.poll())

    def test_slowloris_times_out(self):
        # request_timeout = 1: the whole request must be there within a second, however often
        # a header line trickles in.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(b"GET /metrics HTTP/1.1\r\n")
            t0 = time.monotonic()
            data = b""
            try:
                for i in range(20):
                    c.sendall(b"X-Drip-%d: y\r\n" % i)
                    time.sleep(0.25)
                    c.setblocking(False)
                    try:
                        chunk = c.recv(4096)
                        data += chunk
                        if not chunk or data:
                            break
                    except BlockingIOError:
                        pass
                    finally:
                        c.setblocking(True)
            except (BrokenPipeError, ConnectionResetError):
                pass
            c.settimeout(3)
            try:
                while chunk := c.recv(4096):
                    data += chunk
            except (socket.timeout, ConnectionResetError, OSError):
                pass
            elapsed = time.monotonic() - t0
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])
        self.assertLess(elapsed, 3.5)
        # An idle keep-alive connection is closed silently after the same time.
        data, closed = self.request(b"", timeout=4)
        self.assertEqual((data, closed), (b"", True))


class Config(unittest.TestCase):
    def test_metrics_on_an_smtp_port_is_refused(self):
        work = Path(tempfile.mkdtemp(prefix="taube-metrics-cfg-"))
        self.addCleanup(shutil.rmtree, work, True)
        cfg = work / "taube.toml"
        for listen, clash in (("127.0.0.1:2525", "127.0.0.1:2525"),
                              ("0.0.0.0:2525", "127.0.0.1:2525")):
            cfg.write_text(h.to_toml(h.merge(h.base_config(work / "mail"), {
                "listener": [{"address": "127.0.0.1", "port": 2525}],
                "metrics": {"listen": listen}})))
            p = subprocess.run([h.taube_bin(), "check-config", str(cfg)], capture_output=True,
                               timeout=30)
            err = p.stderr.decode()
            self.assertEqual(p.returncode, 1, err)
            line = next(i for i, t in enumerate(cfg.read_text().splitlines(), 1)
                        if t.startswith("listen"))
            self.assertIn(f"taube.toml:{line}: metrics.listen: {listen} is the address of the "
                          f"SMTP listener {clash}", err)

    def test_off_unless_configured(self):
        srv = h.Taube({})
        self.addCleanup(srv.cleanup)
        self.assertIsNone(METRICS_RX.search(srv.log_text()))
        self.assertNotIn("metrics", srv.log_text())

    def test_alert_rules_pass_promtool(self):
        p = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())
        self.assertIn("SUCCESS", p.stdout.decode())
        # The rules' own unit tests: each alert fires on the series it is meant for, and not
        # on the others.
        p = subprocess.run(["promtool", "test", "rules", "taube-alerts.test.yml"],
                           capture_output=True, timeout=60, cwd=ALERTS.parent)
        self.assertEqual(p.returncode, 0, p.stdout.decode() + p.stderr.decode())


class ConnectionLimit(unittest.TestCase):
    def test_connections_beyond_max_are_closed(self):
        srv = h.Taube({"metrics": {"listen": "127.0.0.1:0", "max_connections": 2}})
        self.addCleanup(srv.cleanup)
        port = metrics_port(srv)
        held = []
        for _ in range(2):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            self.assertEqual(c.getresponse().read(), b"ok\n")
            held.append(c)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                got = extra.recv(4096)
            except ConnectionResetError:
                got = b""
            self.assertEqual(got, b"", "a third connection was served")
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the server notices the close when its read returns
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    self.assertEqual(r.status, 200)
                    break
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        # The held one still works (keep-alive).
        held[0].request("GET", "/healthz")
        self.assertEqual(held[0].getresponse().read(), b"ok\n")
        held[0].close()


class Shutdown(unittest.TestCase):
    """SIGTERM: while a transaction drains (shutdown_grace), /healthz says 503 and /metrics
    still answers; idle HTTP keep-alive connections do not hold the exit."""

    def test_healthz_503_while_draining_then_exit(self):
        srv = h.Taube({"metrics": {"listen": "127.0.0.1:0", "request_timeout": 30},
                       "server": {"shutdown_grace": 3}})
        self.addCleanup(srv.cleanup)
        port = metrics_port(srv)
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        idle.request("GET", "/healthz")
        self.assertEqual(idle.getresponse().read(), b"ok\n")  # now idle, kept alive
        with h.RawClient(h.HOST, srv.port) as c:
            c.greet()
            c.expect("250", "MAIL FROM:<a@client.test>")
            c.expect("250", "RCPT TO:<alice@example.org>")
            c.expect("354", "DATA")
            c.send(b"Subject: unfinished\r\n\r\nstill writing")
            t0 = time.monotonic()
            srv.terminate()
            srv.wait_log("stopping", 5)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            self.assertEqual((r.status, r.read()), (503, b"stopping\n"))
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read().decode()
            self.assertEqual(r.status, 200)
            self.assertEqual(value(parse(body), "taube_smtp_connections_active"), 1)
            conn.close()
            self.assertEqual(srv.wait_exit(10), 0)
        # The grace period (3 s) ended the transaction; nothing waited for the idle HTTP
        # connection's 30 s.
        self.assertLess(time.monotonic() - t0, 8)
        self.assertGreater(time.monotonic() - t0, 2.5)
        idle.close()


class RealPrometheus(unittest.TestCase):
    """A private Prometheus (temporary config and storage, loopback port) scrapes Taube; its
    API then says `up` is 1 and has Taube's build info."""

    def test_scraped_by_prometheus(self):
        work = Path(tempfile.mkdtemp(prefix="taube-prom-"))
        self.addCleanup(shutil.rmtree, work, True)
        peer = SmtpPeer()
        self.addCleanup(peer.stop)
        srv = start_server(peer, work)
        self.addCleanup(srv.cleanup)
        mport = metrics_port(srv)
        pport = h.free_port()
        (work / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {ALERTS}\n"
            "scrape_configs:\n  - job_name: taube\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{mport}']\n")
        log = (work / "prometheus.log").open("wb")
        proc = subprocess.Popen(["prometheus", f"--config.file={work / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={work / 'data'}",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=log, stderr=subprocess.STDOUT, cwd=work)

        def stop():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
        self.addCleanup(stop)

        def query(q: str):
            url = f"http://127.0.0.1:{pport}/api/v1/query?" + urllib.parse.urlencode({"query": q})
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.load(r)["data"]["result"]
        deadline = time.monotonic() + 30
        up = []
        while time.monotonic() < deadline:
            try:
                up = query('up{job="taube"}')
                if up and up[0]["value"][1] == "1":
                    break
            except (urllib.error.URLError, ConnectionError, KeyError):
                pass
            time.sleep(0.5)
        self.assertTrue(up and up[0]["value"][1] == "1",
                        f"up = {up}\n" + (work / "prometheus.log").read_text()[-3000:])
        info = query("taube_build_info")
        self.assertEqual(len(info), 1, info)
        self.assertEqual(info[0]["metric"]["job"], "taube")
        # The rules were loaded and evaluate against Taube's series without errors.
        with urllib.request.urlopen(f"http://127.0.0.1:{pport}/api/v1/rules", timeout=5) as r:
            groups = json.load(r)["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        self.assertTrue(rules)
        for r in rules:
            self.assertNotEqual(r.get("health"), "err", r)


if __name__ == "__main__":
    h.main("promtool", "prometheus", "openssl")

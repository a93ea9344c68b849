"""The web console's JSON API (docs/console.md) on the real taube: authorisation (no session
401, no or wrong CSRF token 403, a mail user's password 403, throttled logins 429), bad input
(pages, filters, ids, bodies: 400 with a message), a message deferred by a destination answering
451 shown with its transcript and headers and retried once the destination recovers (then
delivered), hold and release, bulk delete, flush, the overview's counts, the live log as
Server-Sent Events, the static pages, and the console sharing the [metrics] listener. Every
action is logged by the queue's administration (as `taube queue`'s are) and by the console with
the administrator's name."""

import http.client
import re
import smtplib
import ssl
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from console_client import ADMIN, ADMIN_PW, MAILUSER, MAILUSER_PW, Api, ConsoleSetup  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import BOB, CAROL  # noqa: E402


class ConsoleApi(unittest.TestCase):
    def setUp(self):
        self.c = ConsoleSetup(self)
        self.srv = self.c.srv
        self.api = Api(self.c.port)
        self.addCleanup(self.api.close)
        status, body, r = self.api.login()
        self.assertEqual(status, 200, body)

    def diag(self) -> str:
        return self.c.diag()

    # -- authorisation ---------------------------------------------------------------------

    def test_login_cookie_and_session(self):
        anon = Api(self.c.port)
        self.addCleanup(anon.close)
        status, body, r = anon.login()
        self.assertEqual(status, 200, body)
        cookie = r.getheader("Set-Cookie")
        self.assertRegex(cookie, r"^taube_session=[0-9a-f]{64}; Path=/; Max-Age=\d+; HttpOnly; "
                                 r"SameSite=Strict$")
        self.assertNotIn("Secure", cookie)  # plaintext loopback
        self.assertRegex(body["csrf_token"], r"^[0-9a-f]{64}$")
        self.assertEqual(body["user"], ADMIN)
        status, body, _ = anon.get("/session")
        self.assertEqual((status, body["user"]), (200, ADMIN))
        self.assertEqual(body["csrf_token"], anon.csrf)
        self.assertIsNotNone(self.srv.wait_log(r"console: admin logged in from 127\.0\.0\.1", 5))
        # Logout needs the token too, then the cookie is worth nothing.
        self.assertEqual(anon.post("/logout", csrf=False)[0], 403)
        status, _, r = anon.post("/logout")
        self.assertEqual(status, 200)
        self.assertIn("Max-Age=0", r.getheader("Set-Cookie"))
        self.assertEqual(anon.get("/session")[0], 401)
        self.assertEqual(anon.get("/queue")[0], 401)

    def test_no_session_is_401_everywhere(self):
        anon = Api(self.c.port)
        self.addCleanup(anon.close)
        for method, path in [("GET", "/session"), ("GET", "/queue"), ("GET", "/queue/ABC"),
                             ("GET", "/overview"), ("GET", "/log"), ("POST", "/queue/ABC/hold"),
                             ("POST", "/bulk"), ("POST", "/flush"), ("POST", "/logout"),
                             ("GET", "/nonexistent")]:
            status, body, _ = anon.request(method, path)
            self.assertEqual(status, 401, (method, path, body))
            self.assertEqual(body, {"error": "not logged in"})
        anon.cookie = "0" * 64  # a made-up cookie
        self.assertEqual(anon.get("/queue")[0], 401)
        anon.cookie = self.api.csrf  # the CSRF token is not a session
        self.assertEqual(anon.get("/queue")[0], 401)

    def test_changes_need_the_csrf_token(self):
        qid = "NOSUCHID"
        status, body, _ = self.api.post(f"/queue/{qid}/hold", csrf=False)
        self.assertEqual(status, 403)
        self.assertIn("X-CSRF-Token", body["error"])
        status, _, _ = self.api.post(f"/queue/{qid}/hold", csrf=False,
                                     headers={"X-CSRF-Token": "0" * 64})
        self.assertEqual(status, 403)
        self.assertEqual(self.api.post("/bulk", {"action": "delete", "ids": ["X"]},
                                       csrf=False)[0], 403)
        # With it: the request is looked at (and the id is unknown).
        self.assertEqual(self.api.post(f"/queue/{qid}/hold")[0], 404)
        # A body that is not JSON is refused (a form post from another site cannot be one).
        status, _, _ = self.api.post("/bulk", raw=b"action=delete&ids=X",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 415)

    def test_wrong_password_mail_user_and_bad_login_bodies(self):
        anon = Api(self.c.port)
        self.addCleanup(anon.close)
        status, body, _ = anon.login(ADMIN, "wrong")
        self.assertEqual((status, body), (401, {"error": "wrong user or password"}))
        self.assertEqual(anon.login("nobody", ADMIN_PW)[0], 401)
        # A mail user with the right password is not an administrator.
        status, body, _ = anon.login(MAILUSER, MAILUSER_PW)
        self.assertEqual((status, body), (403, {"error": "not a console administrator"}))
        self.assertIsNotNone(self.srv.wait_log(
            re.escape(f"console: login failed for {MAILUSER} from 127.0.0.1 (a mail user"), 5))
        for raw, ctype, want in [(b'{"user": "admin"}', "application/json", 400),
                                 (b'{"user": 1, "password": "x"}', "application/json", 400),
                                 (b"not json", "application/json", 400),
                                 (b'{"user": "admin", "password": "x"', "application/json", 400),
                                 (b'{"user": "a\\nb", "password": "x"}', "application/json", 400),
                                 (b"user=admin&password=x", "application/x-www-form-urlencoded",
                                  415)]:
            status, body, _ = anon.request("POST", "/login", raw=raw,
                                           headers={"Content-Type": ctype}, csrf=False)
            self.assertEqual(status, want, (raw, body))
            self.assertIn("error", body)
        self.assertEqual(anon.get("/login")[0], 405)

    def test_failed_logins_are_throttled_per_address(self):
        other = Api(self.c.port, source="127.0.0.5")
        self.addCleanup(other.close)
        for _ in range(5):
            self.assertEqual(other.login(ADMIN, "wrong")[0], 401)
        status, body, _ = other.login()  # the right password, but banned now
        self.assertEqual(status, 429, body)
        self.assertIn("too many failed logins", body["error"])
        # Another address is not affected.
        fresh = Api(self.c.port, source="127.0.0.6")
        self.addCleanup(fresh.close)
        self.assertEqual(fresh.login()[0], 200)

    # -- bad input ---------------------------------------------------------------------------

    def test_bad_queries_ids_and_bodies_are_400_with_a_message(self):
        for query in ["page=0", "page=-1", "page=abc", "page=1000001", "page=99999999999999999999",
                      "per_page=0", "per_page=501", "state=frozen", "colour=red",
                      "page=1&page=2", "sender=%zz", "sender=%00", "domain=" + "x" * 300]:
            status, body, _ = self.api.get("/queue?" + query)
            self.assertEqual(status, 400, (query, body))
            self.assertTrue(body["error"], query)
        self.assertEqual(self.api.get("/queue?page=1000000&per_page=500")[0], 200)
        for bad in ["a!b", "..", "x" * 300, "%41"]:
            status, body, _ = self.api.get("/queue/" + bad)
            self.assertEqual(status, 400, (bad, body))
        self.assertEqual(self.api.get("/queue/NOSUCHID")[0], 404)
        self.assertEqual(self.api.post("/queue/NOSUCHID/frobnicate")[0], 404)
        self.assertEqual(self.api.post("/queue/NOSUCHID")[0], 405)
        self.assertEqual(self.api.get("/queue/NOSUCHID/hold")[0], 405)
        for body in [{"action": "delete"}, {"action": "delete", "ids": []},
                     {"action": "delete", "ids": "X"}, {"action": "melt", "ids": ["X"]},
                     {"action": "delete", "ids": ["a b"]},
                     {"action": "delete", "ids": ["X"] * 1001}]:
            status, answer, _ = self.api.post("/bulk", body)
            self.assertEqual(status, 400, (body, answer))
            self.assertIn("error", answer)
        status, answer, _ = self.api.post("/bulk", raw=b"{", headers={"Content-Type":
                                                                         "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("bad JSON", answer["error"])
        self.assertEqual(self.api.get("/log?colour=red")[0], 400)

    # -- the queue ---------------------------------------------------------------------------

    def test_deferred_message_shown_then_retried_and_delivered(self):
        qid = self.c.submit_deferred("console-retry")
        status, listing, _ = self.api.get("/queue")
        self.assertEqual(status, 200, listing)
        item = next(i for i in listing["items"] if i["queue_id"] == qid)
        self.assertIn(item["queue_name"], ("deferred", "active"))
        self.assertEqual(item["sender"], o.ALICE)
        rcpt = item["recipients"][0]
        self.assertEqual(rcpt["address"], BOB)
        self.assertEqual(rcpt["state"], "deferred")
        self.assertEqual(rcpt["attempts"], 1)
        self.assertEqual(rcpt["last_reply"], "451 4.7.1 try later")
        self.assertGreater(rcpt["next_attempt"], time.time() + 200)
        shown = self.c.wait_idle(self.api, qid)
        self.assertEqual(shown["item"]["queue_id"], qid)
        self.assertIn("451 4.7.1 try later", shown["transcript"])
        self.assertIn("RCPT TO:<bob@remote.test>", shown["transcript"])
        self.assertIn("Subject: console-retry", shown["headers"])
        self.assertNotIn("marker console-retry", shown["headers"])  # never the body
        self.assertIn("the last answer was \"451 4.7.1 try later\"", shown["why"])
        # The destination recovers; "retry now" delivers long before the retry time.
        self.c.failing = False
        status, body, _ = self.api.post(f"/queue/{qid}/retry")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 15), self.diag())
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + ": requeued", 5))
        self.assertIsNotNone(self.srv.wait_log(
            re.escape(f"console: {qid}: retry by admin from 127.0.0.1"), 5))
        deadline = time.monotonic() + 10
        while self.api.get(f"/queue/{qid}")[0] != 404:
            self.assertLess(time.monotonic(), deadline, self.diag())
            time.sleep(0.05)

    def test_the_last_attempts_transcripts_are_kept(self):
        qid = self.c.submit_deferred("console-attempts")
        # A second attempt, deferred again: both transcripts, each under its heading.
        status, body, _ = self.api.post(f"/queue/{qid}/retry")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        deadline = time.monotonic() + 10
        while True:
            shown = self.c.wait_idle(self.api, qid)
            if len(shown["attempts"]) == 2 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        attempts = shown["attempts"]
        self.assertEqual(len(attempts), 2, shown)
        self.assertEqual(shown["item"]["recipients"][0]["attempts"], 2)
        for a in attempts:
            self.assertRegex(a["heading"],
                             r"^attempt at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, 127\.0\.0\.2\[127\.0\.0\.2\]:\d+$")
            self.assertIn("RCPT TO:<bob@remote.test>", a["transcript"])
            self.assertIn("451 4.7.1 try later", a["transcript"])
            self.assertNotIn("===", a["transcript"])
        self.assertLessEqual(attempts[0]["heading"], attempts[1]["heading"])
        self.assertEqual(shown["transcript"], attempts[1]["transcript"])

    def test_dsn_preview_shows_the_bounce_without_sending_it(self):
        qid = self.c.submit_deferred("console-dsn")
        status, d, _ = self.api.get(f"/queue/{qid}/dsn")
        self.assertEqual(status, 200, d)
        self.assertTrue(d["would_send"], d)
        self.assertEqual((d["to"], d["recipients"]), (o.ALICE, [BOB]))
        m = d["message"]
        self.assertIn(f"To: <{o.ALICE}>", m)
        self.assertIn("report-type=delivery-status", m)
        self.assertIn("Final-Recipient: rfc822; bob@remote.test", m)
        self.assertIn("Action: failed", m)
        self.assertIn("Subject: console-dsn", m)  # the original's headers are returned
        # Nothing happened: the message is still deferred, no notice was queued or logged.
        status, shown, _ = self.api.get(f"/queue/{qid}")
        self.assertEqual((status, shown["item"]["recipients"][0]["state"]), (200, "deferred"))
        self.assertEqual(self.api.get("/queue")[1]["total"], 1)
        self.assertIsNone(self.srv.wait_log(r"non-delivery notification", 0.5))
        # A notice is never sent for a notice: the preview says why.
        null = self.c.submit_deferred("console-dsn-null", sender="")
        status, d, _ = self.api.get(f"/queue/{null}/dsn")
        self.assertEqual(status, 200, d)
        self.assertFalse(d["would_send"])
        self.assertIn("the sender is <>", d["why"])
        self.assertEqual(d["message"], "")
        self.assertEqual(self.api.get("/queue/ABCDEF0123456789/dsn")[0], 404)
        self.assertEqual(self.api.get("/queue/-bad/dsn")[0], 400)
        self.assertEqual(self.api.post(f"/queue/{qid}/dsn")[0], 405)

    def test_hold_and_release(self):
        qid = self.c.submit_deferred("console-hold")
        self.c.wait_idle(self.api, qid)
        status, body, _ = self.api.post(f"/queue/{qid}/hold")
        self.assertEqual((status, body), (200, {"id": qid, "action": "hold", "result": "done"}))
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + ": placed on hold", 5))
        self.assertEqual(self.api.get(f"/queue/{qid}")[1]["item"]["queue_name"], "hold")
        self.assertEqual(self.api.post(f"/queue/{qid}/hold")[1]["result"], "unchanged")
        held = self.api.get("/queue?state=hold")[1]
        self.assertEqual([i["queue_id"] for i in held["items"]], [qid])
        status, body, _ = self.api.post(f"/queue/{qid}/release")
        self.assertEqual((status, body["result"]), (200, "done"))
        self.assertIsNotNone(self.srv.wait_log(re.escape(qid) + ": released from hold", 5))
        # Released mail is due at once: tried again (still 451) and deferred.
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 10,
                                               start=len(self.srv.lines()) - 5))
        self.assertNotEqual(self.c.wait_idle(self.api, qid)["item"]["queue_name"], "hold")

    def test_bulk_delete_and_bounce(self):
        ids = [self.c.submit_deferred(f"console-bulk-{i}") for i in range(3)]
        for qid in ids:
            self.c.wait_idle(self.api, qid)
        status, body, _ = self.api.post("/bulk", {"action": "delete", "ids": ids[:2] + ["NOPE"]})
        self.assertEqual(status, 200, body)
        self.assertEqual([r["result"] for r in body["results"]], ["done", "done", "not_found"])
        self.assertFalse(body["ok"])
        for qid in ids[:2]:
            self.assertIsNotNone(self.srv.wait_log(re.escape(qid) +
                                                   r": removed \(deleted by the administrator\)", 5))
            self.assertEqual(self.api.get(f"/queue/{qid}")[0], 404)
        self.assertIsNotNone(self.srv.wait_log(r"console: delete of 3 message\(s\) by admin", 5))
        # Bounce: returned to the sender (a DSN to alice's Maildir) and gone from the queue.
        status, body, _ = self.api.post(f"/queue/{ids[2]}/bounce")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "expired", ids[2]), 10),
                             self.diag())

    def test_filters_paging_and_flush(self):
        a = self.c.submit_deferred("console-f1", rcpts=(BOB,))
        b = self.c.submit_deferred("console-f2", rcpts=(CAROL,))
        for qid in (a, b):
            self.c.wait_idle(self.api, qid)

        def ids(query):
            status, body, _ = self.api.get("/queue?" + query)
            self.assertEqual(status, 200, body)
            return [i["queue_id"] for i in body["items"]], body

        self.assertEqual(ids("recipient=carol")[0], [b])
        self.assertEqual(ids("recipient=BOB%40remote")[0], [a])
        self.assertEqual(sorted(ids("domain=remote.test")[0]), sorted([a, b]))
        self.assertEqual(ids("domain=other.test")[0], [])
        # Oldest first (by arrival second, then queue file name), as `taube queue list`.
        everything = ids("sender=alice%40example.org&state=deferred")[0]
        self.assertEqual(sorted(everything), sorted([a, b]))
        self.assertEqual(ids("sender=%3C%3E")[0], [])
        first, body = ids("per_page=1&page=1")
        self.assertEqual((first, body["total"], body["pages"]), (everything[:1], 2, 2))
        self.assertEqual(ids("per_page=1&page=2")[0], everything[1:])
        self.assertEqual(ids("per_page=1&page=3")[0], [])
        # Flush (postqueue -f): everything due now, delivered once the peer answers.
        self.c.failing = False
        status, body, _ = self.api.post("/flush")
        self.assertEqual((status, body), (200, {"due_now": 2}))
        for qid, rcpt in ((a, BOB), (b, CAROL)):
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(rcpt, "sent", qid), 15),
                                 self.diag())

    # -- overview, live log, pages -----------------------------------------------------------

    def test_overview_counts(self):
        # A refused command (RCPT before MAIL): counted by verb and reply code.
        with h.RawClient(h.HOST, self.srv.port, 10) as c:
            c.greet()
            c.expect("503", f"RCPT TO:<{BOB}>")
            c.cmd("QUIT")
        qid = self.c.submit_deferred("console-ov")
        self.c.wait_idle(self.api, qid)
        status, ov, _ = self.api.get("/overview")
        self.assertEqual(status, 200, ov)
        self.assertEqual(ov["queue"]["messages"], 1)
        self.assertEqual(ov["queue"]["deferred"], 1)
        self.assertEqual(ov["queue"]["recipients"], 1)
        self.assertGreaterEqual(ov["queue"]["oldest_age"], 0)
        self.assertLessEqual(ov["queue"]["oldest_age"], 60)
        self.assertEqual(sum(ov["activity"]["received"]), 1)
        self.assertEqual(sum(ov["activity"]["deferred"]), 1)
        self.assertEqual(sum(ov["activity"]["delivered"]), 0)
        self.assertEqual(len(ov["activity"]["received"]), 360)
        self.assertEqual(ov["activity"]["step"], 60)
        self.assertEqual({d["what"] for d in ov["disk"]}, {"mail_root", "queue"})
        self.assertGreaterEqual(ov["inbound"]["sessions"], 1)
        self.assertEqual(ov["inbound"]["tls"], 0)
        self.assertEqual(ov["inbound"]["rejects"], {"RCPT 503": 1})
        self.assertEqual([(r["what"], r["count"]) for r in ov["inbound"]["reject_reasons"]],
                         [("RCPT 503 5.5.1", 1)], ov["inbound"])
        self.assertTrue(ov["inbound"]["reject_reasons"][0]["example"])
        # The TLS share's series: two plaintext sessions in, one plaintext connection out.
        self.assertEqual(sum(ov["activity"]["sessions_in"]), 2)
        self.assertEqual(sum(ov["activity"]["tls_in"]), 0)
        self.assertEqual(sum(ov["activity"]["opened_out"]), 1)
        self.assertEqual(sum(ov["activity"]["tls_out"]), 0)
        self.assertEqual((ov["outbound"]["opened"], ov["outbound"]["opened_tls"]), (1, 0))
        for d in ov["disk"]:
            self.assertGreater(d["total_bytes"], 0)
            self.assertLessEqual(d["free_bytes"], d["total_bytes"])

    def test_live_log_streams_new_transactions(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.c.port, timeout=10)
        self.addCleanup(conn.close)
        conn.request("GET", "/api/v1/log", headers={"Cookie": "taube_session=" + self.api.cookie})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/event-stream"))
        self.assertIsNone(r.getheader("Content-Length"))
        qid = o.submit(self.srv, o.ALICE, [BOB], o.message("console-live"))
        seen = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = r.fp.readline().decode()
            seen.append(line)
            if line.startswith("data: ") and f"{qid}: to=<{BOB}>" in line:
                break
        else:
            self.fail("no log line of the new transaction:\n" + "".join(seen[-20:]))
        self.assertTrue(any(l.startswith("id: ") for l in seen))
        self.assertIn("status=deferred", line)

    def test_static_pages_and_their_headers(self):
        for page in ["", "index.html", "queue.html", "message.html", "log.html", "login.html",
                     "app.css", "app.js"]:
            status, body, r = self.api.get("/console/" + page, prefix="")
            self.assertEqual(status, 200, page)
            self.assertIn("default-src 'self'", r.getheader("Content-Security-Policy"))
            self.assertEqual(r.getheader("X-Frame-Options"), "DENY")
        self.assertTrue(self.api.get("/console/", prefix="")[2].getheader("Content-Type")
                        .startswith("text/html"))
        self.assertEqual(self.api.get("/console/nope.html", prefix="")[0], 404)
        self.assertEqual(self.api.post("/console/", prefix="")[0], 405)
        status, _, r = self.api.get("/", prefix="")
        self.assertEqual((status, r.getheader("Location")), (303, "/console/"))


class ConsoleOnTheMetricsListener(unittest.TestCase):
    def test_shares_the_metrics_listener(self):
        c = ConsoleSetup(self, console={"listen": ""}, metrics=True)
        m = c.srv.wait_log(r"metrics: serving http://127\.0\.0\.1:(\d+)/metrics", 5)
        self.assertEqual(int(m.group(1)), c.port)
        api = Api(c.port)
        self.addCleanup(api.close)
        self.assertEqual(api.get("/queue")[0], 401)
        self.assertEqual(api.login()[0], 200)
        self.assertEqual(api.get("/queue")[0], 200)
        status, text, _ = api.get("/metrics", prefix="")
        self.assertEqual(status, 200)
        self.assertIn('taube_http_requests_total{route="/api/",code="401"} 1', text)


class LargeQueue(unittest.TestCase):
    """5,000 parked items (more than one slice of the runner's scan, which yields to the event
    loop between slices): every page in `taube queue list`'s order, none lost or repeated."""

    N = 5000

    def test_pages_follow_the_listing(self):
        import json as jsonlib
        import shutil
        import subprocess
        import tempfile
        from taubetest import queuegen
        from test_queue_startup import spec
        from console_client import passwd
        root = Path(tempfile.mkdtemp(prefix="taube-it-console-large-"))
        self.addCleanup(shutil.rmtree, root, True)
        sp = spec()
        # Arrivals repeat (i % 3000 seconds back): the order's second key, the file name, counts.
        queuegen.generate(root / o.QUEUE, self.N, sp, procs=1)
        passwd(root / "admins", ADMIN, ADMIN_PW)
        srv = o.start({o.REMOTE: "smtp:[127.0.0.2]:9"}, root=root, queue={"max_lifetime": 86400},
                      extra={"console": {"users_file": str(root / "admins"),
                                         "listen": "127.0.0.1:0"}})
        o.guard(self, srv)
        port = int(srv.wait_log(r"console: serving http://127\.0\.0\.1:(\d+)/", 10).group(1))
        self.assertIsNotNone(srv.wait_log(rf"queue \S+: {self.N} message\(s\) loaded in", 60))
        listing = subprocess.run([h.taube_bin(), "queue", "-c", str(srv.config_path), "list",
                                  "--json"], cwd=srv.dir, capture_output=True, text=True,
                                 timeout=60)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        want = [jsonlib.loads(line)["queue_id"] for line in listing.stdout.splitlines()]
        self.assertEqual(len(want), self.N)
        api = Api(port)
        self.addCleanup(api.close)
        api.login()
        got = []
        for page in range(1, 12):
            status, body, _ = api.get(f"/queue?per_page=500&page={page}")
            self.assertEqual(status, 200, body)
            self.assertEqual((body["total"], body["pages"]), (self.N, 10))
            got += [i["queue_id"] for i in body["items"]]
        self.assertEqual(got, want)
        status, body, _ = api.get("/queue?per_page=7&page=300")
        self.assertEqual([i["queue_id"] for i in body["items"]], want[2093:2100])
        # A filter that decodes: u77.0@ is one item's recipient.
        status, body, _ = api.get("/queue?recipient=u77.0%40")
        self.assertEqual([i["queue_id"] for i in body["items"]], [f"{sp['id_prefix']}{77:09X}"])
        status, ov, _ = api.get("/overview")
        self.assertEqual((ov["queue"]["messages"], ov["queue"]["deferred"]), (self.N, self.N))
        self.assertEqual(ov["queue"]["recipients"], sum(1 if i % 3 else 2 for i in range(self.N)))


class TlsShare(unittest.TestCase):
    def test_sessions_over_tls_in_and_out_are_counted_per_minute(self):
        """One STARTTLS session in, one plaintext session in, a delivery over STARTTLS out: the
        overview's per-minute series and totals say 1 of 2 in, 1 of 1 out."""
        c = ConsoleSetup(self, peer_tls=True)
        c.failing = False
        api = Api(c.port)
        self.addCleanup(api.close)
        self.assertEqual(api.login()[0], 200)
        with smtplib.SMTP(h.HOST, c.srv.port, timeout=10) as s:
            s.ehlo("tls.client.test")
            s.starttls(context=ssl._create_unverified_context())
            s.ehlo("tls.client.test")
            s.noop()
        qid = o.submit(c.srv, o.ALICE, [BOB], o.message("tls-share"))
        self.assertIsNotNone(c.srv.wait_log(o.status_rx(BOB, "sent", qid), 15), c.diag())
        self.assertTrue(c.peer.sessions()[-1].tls, c.diag())
        deadline = time.monotonic() + 5
        while True:
            status, ov, _ = api.get("/overview")
            self.assertEqual(status, 200, ov)
            a = ov["activity"]
            if sum(a["opened_out"]) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual((sum(a["sessions_in"]), sum(a["tls_in"])), (2, 1))
        self.assertEqual((sum(a["opened_out"]), sum(a["tls_out"])), (1, 1))
        self.assertEqual((ov["outbound"]["opened"], ov["outbound"]["opened_tls"]), (1, 1))
        self.assertEqual((ov["inbound"]["sessions"], ov["inbound"]["tls"]), (2, 1))


class ConsoleOverTls(unittest.TestCase):
    def test_https_with_the_servers_certificate_and_a_secure_cookie(self):
        c = ConsoleSetup(self, console={"tls": True})
        self.assertIsNotNone(c.srv.wait_log(r"console: serving https://127\.0\.0\.1:\d+/", 5))
        api = Api(c.port, tls=True)
        self.addCleanup(api.close)
        status, _, r = api.login()
        self.assertEqual(status, 200)
        self.assertTrue(r.getheader("Set-Cookie").endswith("; HttpOnly; SameSite=Strict; Secure"),
                        r.getheader("Set-Cookie"))
        self.assertEqual(api.get("/queue")[0], 200)
        # Plaintext on the HTTPS port gets no answer: the handshake fails and it is closed.
        plain = Api(c.port)
        self.addCleanup(plain.close)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            plain.get("/session")
        self.assertEqual(api.get("/session")[0], 200)  # still serving


if __name__ == "__main__":
    h.main()

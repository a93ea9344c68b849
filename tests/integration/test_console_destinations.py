"""The Destinations view (docs/console.md "Destinations") on the real taube, after real
deliveries to four SmtpPeer-backed destinations on loopback: one that answers 451 to RCPT
(127.0.0.2: deferrals, no back-off: it answers), one that accepts (127.0.0.3: deliveries), one
nobody listens on (127.0.0.4: a connection error, held back until its retry), one whose STARTTLS
breaks (127.0.0.5: a TLS failure, then delivered in plaintext). Checked through
GET /api/v1/destinations (authorisation, bad parameters, sorting, paging, every count) and
through `taube queue destinations` (the same rows as a qshape table and as JSON lines)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from console_client import CONSOLE_RX, Api, passwd, ADMIN, ADMIN_PW  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port, make_cert  # noqa: E402

DEFER_TO, OK_TO, OK_TO2 = "bob@remote.test", "dan@other.test", "erin@other.test"
DEAD_TO, TLS_TO = "frank@dead.test", "gina@tls.test"


class DestinationsSetup:
    """A Taube with the console delivering to the four destinations of the module docstring,
    one message to each (two recipients at other.test), every attempt over once it returns."""

    def __init__(self, test):
        self.test = test
        self.files = Path(tempfile.mkdtemp(prefix="taube-dest-"))
        passwd(self.files / "admins", ADMIN, ADMIN_PW)
        self.deferring = SmtpPeer(host="127.0.0.2", port=free_port("127.0.0.2"),
                                  rcpt=lambda addr, n: "451 4.7.1 try later")
        test.addCleanup(self.deferring.stop)
        self.accepting = SmtpPeer(host="127.0.0.3", port=free_port("127.0.0.3"))
        test.addCleanup(self.accepting.stop)
        self.broken_tls = SmtpPeer(host="127.0.0.5", port=free_port("127.0.0.5"),
                                   tls=make_cert(self.files), tls_fault="close")
        test.addCleanup(self.broken_tls.stop)
        dead_port = free_port("127.0.0.4")  # nothing listens there
        self.keys = {
            "defer": f"[127.0.0.2]:{self.deferring.port}",
            "ok": f"[127.0.0.3]:{self.accepting.port}",
            "dead": f"[127.0.0.4]:{dead_port}",
            "tls": f"[127.0.0.5]:{self.broken_tls.port}",
        }
        routes = {"remote.test": "smtp:" + self.keys["defer"],
                  "other.test": "smtp:" + self.keys["ok"],
                  "dead.test": "smtp:" + self.keys["dead"],
                  "tls.test": "smtp:" + self.keys["tls"]}
        extra = {"console": {"users_file": str(self.files / "admins"), "listen": "127.0.0.1:0"}}
        # No retry within the test: each destination sees exactly one attempt.
        self.srv = o.start(routes, port=h.free_port(),
                           queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600},
                           extra=extra)
        o.guard(test, self.srv)
        m = self.srv.wait_log(CONSOLE_RX, 10)
        if m is None:
            raise AssertionError("no 'console: serving' line:\n" + self.srv.log_text()[-3000:])
        self.port = int(m.group(1))
        self.started = int(time.time())
        self.ids = {
            "defer": o.submit(self.srv, o.ALICE, [DEFER_TO], o.message("dest-defer")),
            "ok": o.submit(self.srv, o.ALICE, [OK_TO, OK_TO2], o.message("dest-ok")),
            "dead": o.submit(self.srv, o.ALICE, [DEAD_TO], o.message("dest-dead")),
            "tls": o.submit(self.srv, o.ALICE, [TLS_TO], o.message("dest-tls")),
        }
        for rcpt, status, which in [(DEFER_TO, "deferred", "defer"), (OK_TO2, "sent", "ok"),
                                    (DEAD_TO, "deferred", "dead"), (TLS_TO, "sent", "tls")]:
            if self.srv.wait_log(o.status_rx(rcpt, status, self.ids[which]), 15) is None:
                raise AssertionError(f"no status={status} for {rcpt}\n" + self.diag())
        self.wait_no_active()

    def diag(self) -> str:
        return o.diag(self.srv, self.deferring)

    def queue(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([h.taube_bin(), "queue", "-c", str(self.srv.config_path), *args],
                              cwd=self.srv.dir, capture_output=True, text=True, timeout=30)

    def wait_no_active(self, timeout: float = 10) -> None:
        """Until no item is in an attempt (the deferred ones written back)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.queue("list", "--json")
            items = [json.loads(line) for line in r.stdout.splitlines()]
            if r.returncode == 0 and not any(i["queue_name"] == "active" for i in items) \
                    and len(items) == 2:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"queue still busy: {r.stdout}\n{self.diag()}")
            time.sleep(0.05)


def by_key(items: list[dict]) -> dict:
    return {i["destination"]: i for i in items}


class ConsoleDestinations(unittest.TestCase):
    def setUp(self):
        self.c = DestinationsSetup(self)
        self.api = Api(self.c.port)
        self.addCleanup(self.api.close)
        status, body, _ = self.api.login()
        self.assertEqual(status, 200, body)

    def get(self, query: str = "") -> dict:
        status, body, _ = self.api.get("/destinations" + (("?" + query) if query else ""))
        self.assertEqual(status, 200, body)
        return body

    def test_no_session_is_401(self):
        anon = Api(self.c.port)
        try:
            for path in ["/destinations", "/destinations?sort=bogus"]:
                status, body, _ = anon.get(path)
                self.assertEqual((status, body), (401, {"error": "not logged in"}), path)
        finally:
            anon.close()

    def test_bad_parameters_are_400_with_a_message(self):
        for query in ["sort=bogus", "sort=", "sort=Queued", "page=0", "page=-1", "page=abc",
                      "page=1000001", "per_page=0", "per_page=501", "colour=red",
                      "sort=name&sort=age", "sort=%zz"]:
            status, body, _ = self.api.get("/destinations?" + query)
            self.assertEqual(status, 400, (query, body))
            self.assertTrue(body["error"], query)
        status, body, _ = self.api.get("/destinations?sort=bogus")
        self.assertIn("queued, age, deferred, errors, delivered, held, name", body["error"])
        status, _, _ = self.api.post("/destinations")
        self.assertEqual(status, 405)

    def test_counts_after_real_deliveries(self):
        now = int(time.time())
        body = self.get("per_page=500")
        self.assertEqual(body["total"], 4, body)
        self.assertEqual(body["sort"], "queued")
        d = by_key(body["items"])
        k = self.c.keys
        self.assertEqual(set(d), set(k.values()), body)

        deferring = d[k["defer"]]
        self.assertEqual(deferring["last_hour"]["deferred"], 1, deferring)
        self.assertEqual(deferring["total"]["deferred"], 1, deferring)
        self.assertEqual(deferring["last_hour"]["delivered"], 0)
        self.assertEqual(deferring["last_hour"]["connection_errors"], 0)
        self.assertEqual((deferring["queued"], deferring["recipients"]), (1, 1))
        self.assertEqual(deferring["messages"]["deferred"], 1)
        # It answered: no back-off, the limit where it started.
        self.assertFalse(deferring["held"], deferring)
        self.assertEqual(deferring["held_until"], 0)
        self.assertEqual(deferring["consecutive_failures"], 0)
        self.assertTrue(deferring["scheduled"])
        self.assertGreaterEqual(deferring["limit"], 1)
        self.assertLessEqual(deferring["connections"], deferring["limit"])
        self.assertIn("451 4.7.1 try later", deferring["last_error"])
        self.assertEqual(deferring["last_success"], 0)
        self.assertTrue(self.c.started - 1 <= deferring["last_failure"] <= now + 1)
        self.assertTrue(self.c.started - 1 <= deferring["oldest_arrival"] <= now + 1)
        self.assertEqual(sum(deferring["ages"]), 1)
        self.assertEqual(deferring["ages"][0], 1)  # younger than 5 minutes

        accepting = d[k["ok"]]
        self.assertEqual(accepting["last_hour"]["delivered"], 2, accepting)  # per recipient
        self.assertEqual(accepting["total"]["delivered"], 2)
        self.assertEqual(accepting["last_hour"]["deferred"], 0)
        self.assertEqual(accepting["queued"], 0)
        self.assertEqual(accepting["oldest_arrival"], 0)
        self.assertTrue(self.c.started - 1 <= accepting["last_success"] <= now + 1)
        self.assertEqual((accepting["last_failure"], accepting["last_error"]), (0, ""))
        self.assertFalse(accepting["held"])

        dead = d[k["dead"]]
        self.assertEqual(dead["last_hour"]["connection_errors"], 1, dead)
        # The recipient waits: counted as the connection error, not as a 4xx deferral.
        self.assertEqual(dead["last_hour"]["deferred"], 0)
        self.assertEqual(dead["messages"]["deferred"], 1)
        # Held back: no connection before its retry (retry_min 300 s, +-10 % jitter).
        self.assertTrue(dead["held"], dead)
        self.assertTrue(now + 200 <= dead["held_until"] <= now + 340, dead)
        self.assertEqual(dead["consecutive_failures"], 1)
        self.assertIn("127.0.0.4", dead["last_error"])
        self.assertRegex(dead["last_error"], r"(?i)refused")
        self.assertLess(dead["limit"], deferring["limit"])  # halved by the failure

        tls = d[k["tls"]]
        self.assertEqual(tls["last_hour"]["tls_failures"], 1, tls)
        self.assertEqual(tls["last_hour"]["delivered"], 1)  # again without TLS
        self.assertEqual(tls["last_hour"]["connection_errors"], 0)
        self.assertGreater(tls["plaintext_until"], now, tls)
        self.assertFalse(tls["held"])
        self.assertRegex(tls["last_error"], r"(?i)tls")

        totals = body["totals"]
        self.assertEqual(totals["queued"], 2)
        self.assertEqual(totals["held"], 1)
        self.assertEqual(totals["last_hour"], {"delivered": 3, "deferred": 1, "bounced": 0,
                                               "connection_errors": 1, "tls_failures": 1})
        self.assertEqual(body["tracked"], 4)
        self.assertEqual(body["evicted"], 0)
        self.assertGreaterEqual(body["max_tracked"], 4)

    def test_sorting_and_paging(self):
        k = self.c.keys
        keys = lambda body: [i["destination"] for i in body["items"]]  # noqa: E731
        self.assertEqual(keys(self.get("sort=name")), sorted(k.values()))
        errors = keys(self.get("sort=errors"))
        self.assertEqual(set(errors[:2]), {k["dead"], k["tls"]})
        self.assertEqual(keys(self.get("sort=held"))[0], k["dead"])
        self.assertEqual(keys(self.get("sort=delivered"))[0], k["ok"])
        self.assertEqual(keys(self.get("sort=deferred"))[0], k["defer"])
        self.assertEqual(set(keys(self.get("sort=queued"))[:2]), {k["defer"], k["dead"]})
        self.assertIn(keys(self.get("sort=age"))[0], {k["defer"], k["dead"]})
        # One a page: the same order, a page at a time.
        whole = keys(self.get("sort=name"))
        for n in range(1, 5):
            body = self.get(f"sort=name&per_page=1&page={n}")
            self.assertEqual((body["pages"], body["total"], body["page"]), (4, 4, n))
            self.assertEqual(keys(body), [whole[n - 1]])
        body = self.get("sort=name&per_page=1&page=9")  # past the end: none
        self.assertEqual((keys(body), body["total"]), ([], 4))

    def test_hold_shows_in_the_shape(self):
        qid = self.c.ids["defer"]
        status, body, _ = self.api.post(f"/queue/{qid}/hold")
        self.assertEqual(status, 200, body)
        row = by_key(self.get()["items"])[self.c.keys["defer"]]
        self.assertEqual(row["messages"]["hold"], 1, row)
        self.assertEqual(row["messages"]["deferred"], 0, row)
        self.assertEqual(row["queued"], 1, row)

    def test_taube_queue_destinations(self):
        k = self.c.keys
        r = self.c.queue("destinations")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        lines = out.splitlines()
        # qshape's header and total, then the health table.
        self.assertRegex(lines[0],
                         r"^\s+T\s+5\s+10\s+20\s+40\s+80\s+160\s+320\s+640\s+1280\s+1280\+$")
        self.assertRegex(lines[1], r"^\s+TOTAL\s+2\s+2(\s+0){9}$", out)
        for which in ("defer", "dead"):
            self.assertRegex(out, rf"(?m)^\s*{re.escape(k[which])}\s+1\s+1(\s+0){{9}}$", out)
        # The health table: a line per destination, starting with its key.
        head = next(i for i, ln in enumerate(lines) if ln.startswith("DESTINATION"))
        self.assertIn("CONN  SENT DEFER BOUNCE CONNERR TLSERR  STATE", lines[head])
        health = {ln.split()[0]: ln for ln in lines[head + 1:] if ln.startswith("[")}
        self.assertEqual(set(health), set(k.values()), out)
        self.assertRegex(health[k["dead"]], r"held until (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \(1 failure\)$")
        self.assertRegex(health[k["tls"]], r"ok, plaintext until (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d$")
        self.assertRegex(health[k["ok"]], r"\s2\s+0\s+0\s+0\s+0  ok$")
        self.assertRegex(health[k["defer"]], r"\s0\s+1\s+0\s+0\s+0  failing$")
        self.assertIn("last error", out)
        self.assertIn("451 4.7.1 try later", out)
        self.assertIn("-- 4 destination(s), 2 message(s) queued", out)
        # The same rows as JSON lines, in the asked order.
        r = self.c.queue("destinations", "--json", "name")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([x["destination"] for x in rows], sorted(k.values()))
        self.assertEqual(by_key(rows)[k["ok"]]["last_hour"]["delivered"], 2)
        # A bad order: exit 1 with the words it knows.
        r = self.c.queue("destinations", "bogus")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("unknown order", r.stderr)
        self.assertIn("queued, age, deferred", r.stderr)
        r = self.c.queue("destinations", "name", "age")
        self.assertEqual(r.returncode, 64, r)


if __name__ == "__main__":
    h.main()

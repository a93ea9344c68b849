"""The console's Deliveries view (docs/console.md "Deliveries") on the real taube: the bounded
on-disk history of finished deliveries. A message delivered to a real peer (SmtpPeer on
127.0.0.2, over STARTTLS), one deferred (451) and delivered after the destination recovers,
with a restart of taube in between (two attempts in its history: the first survived the
restart in the item's attempts file), one bounced (550), one deleted and one returned to its
sender (expired) by the administrator;
searched by queue id, Message-ID, sender, recipient and status, paged by cursor; still there
after another restart; the cap (a small history_size_mb, many records) respected on disk with
the oldest records gone first; 401 without a session, 400 for bad input. One browser check
(Debian chromium + selenium under /usr/bin/python3) finds a delivery on the page and opens its
attempts; screenshots at 1280x800 and 390x844 go to
$TAUBE_TEST_OUTPUT/test_console_deliveries/."""

import os
import re
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

DEBIAN_PYTHON = "/usr/bin/python3"
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    webdriver = None
    # python3-selenium is a Debian module (see test_console_browser.py): run again under
    # Debian's python when another one started this file; without it the browser check skips.
    if __name__ == "__main__" and os.path.realpath(sys.executable) != os.path.realpath(
            DEBIAN_PYTHON) and os.access(DEBIAN_PYTHON, os.X_OK) and \
            not os.environ.get("TAUBE_REEXEC"):
        os.environ["TAUBE_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, *sys.argv])

from console_client import ADMIN, ADMIN_PW, CONSOLE_RX, Api, passwd  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port, make_cert  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
OUT = Path(os.environ.get("TAUBE_TEST_OUTPUT", Path.cwd())) / "test_console_deliveries"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}

SENT, DEFER, BOUNCE = "sent@remote.test", "defer@remote.test", "bounce@remote.test"


class Setup:
    """A Taube with the console delivering remote.test to a TLS peer that answers 550 to
    bounce*@, 451 to defer*@ while `failing`, and 250 otherwise."""

    def __init__(self, test, history_mb: int | None = None):
        self.failing = True
        self.files = Path(tempfile.mkdtemp(prefix="taube-deliveries-"))
        passwd(self.files / "admins", ADMIN, ADMIN_PW)

        def rcpt(addr, n):
            if addr.startswith("bounce"):
                return "550 5.1.1 no such user here"
            if self.failing and addr.startswith("defer"):
                return "451 4.7.1 try later"
            return None
        port = free_port("127.0.0.2")
        self.peer = SmtpPeer(port=port, rcpt=rcpt, tls=make_cert(self.files))
        test.addCleanup(self.peer.stop)
        queue = {"retry_min": 300, "retry_max": 600, "max_lifetime": 3600}
        if history_mb is not None:
            queue["history_size_mb"] = history_mb
        extra = {"console": {"users_file": str(self.files / "admins"), "listen": "127.0.0.1:0"}}
        self.srv = o.start({o.REMOTE: f"smtp:[127.0.0.2]:{port}"}, port=h.free_port(),
                           queue=queue, extra=extra)
        o.guard(test, self.srv)
        self.test = test
        self.api = self.connect()

    def connect(self) -> Api:
        m = self.srv.wait_log(CONSOLE_RX, 10, start=self.srv.starts[-1])
        if m is None:
            raise AssertionError("no 'console: serving' line:\n" + self.srv.log_text()[-3000:])
        self.port = int(m.group(1))
        api = Api(self.port)
        self.test.addCleanup(api.close)
        status, body, _ = api.login()
        if status != 200:
            raise AssertionError(f"login: {status} {body}")
        return api

    def restart(self) -> Api:
        self.api.close()
        self.srv.stop()
        self.srv.restart()
        self.api = self.connect()
        return self.api

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def deliver(self, rcpt: str, marker: str, status: str, rcpts=None) -> str:
        qid = o.submit(self.srv, ALICE, rcpts or [rcpt], o.message(marker))
        if self.srv.wait_log(o.status_rx(rcpt, status, qid), 15,
                             start=self.srv.starts[-1]) is None:
            raise AssertionError(self.diag())
        return qid

    def idle(self, qid: str, timeout: float = 10) -> None:
        """Once no attempt of it runs (its files written, the runner has it back)."""
        deadline = time.monotonic() + timeout
        while True:
            status, body, _ = self.api.get(f"/queue/{qid}")
            if status == 200 and body["item"]["queue_name"] != "active":
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{qid} still active or gone: {status} {body}")
            time.sleep(0.05)

    def record(self, qid: str, timeout: float = 5, n: int = 1) -> list:
        """The history's `n` records of `qid` (a record is written just after its log line)."""
        deadline = time.monotonic() + timeout
        while True:
            status, body, _ = self.api.get(f"/deliveries/{qid}")
            if status == 200 and len(body["items"]) >= n:
                return body["items"]
            if time.monotonic() > deadline:
                raise AssertionError(f"{qid} not in the history: {status} {body}\n{self.diag()}")
            time.sleep(0.05)


class Deliveries(unittest.TestCase):
    def test_history_of_sent_deferred_bounced_deleted_across_restarts(self):
        c = Setup(self)
        qs = c.deliver(SENT, "hist-sent", "sent")
        qd = c.deliver(DEFER, "hist-defer", "deferred")
        c.idle(qd)
        qb = c.deliver(BOUNCE, "hist-bounce", "bounced")
        c.record(qs)
        c.record(qb)
        # The deferred message's first attempt is in its attempts file, which must survive.
        api = c.restart()
        c.failing = False
        c.idle(qd)
        status, body, _ = api.post(f"/queue/{qd}/retry")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        self.assertIsNotNone(c.srv.wait_log(o.status_rx(DEFER, "sent", qd), 15,
                                            start=c.srv.starts[-1]), c.diag())
        [rec] = c.record(qd)
        self.assertEqual(rec["status"], "sent")
        self.assertEqual(rec["message_id"], "<hist-defer@client.test>")
        self.assertEqual((rec["sender"], rec["recipient"]), (ALICE, DEFER))
        first, second = rec["attempts"]
        self.assertEqual(first["status"], "deferred")
        self.assertEqual(first["reply"], "451 4.7.1 try later")
        self.assertEqual(second["status"], "sent")
        self.assertTrue(second["reply"].startswith("250"), second)
        for a in (first, second):
            self.assertEqual(a["address"], "127.0.0.2")
            self.assertTrue(a["tls"], a)  # STARTTLS with the peer
            self.assertGreaterEqual(a["seconds"], 0)
        self.assertLessEqual(first["time"], second["time"])
        self.assertEqual(rec["dsn"], "2.0.0")
        self.assertRegex(rec["relay"], r"127\.0\.0\.2")

        [b] = c.record(qb)
        self.assertEqual((b["status"], b["dsn"]), ("bounced", "5.1.1"))
        self.assertEqual(b["reply"], "550 5.1.1 no such user here")
        self.assertEqual(len(b["attempts"]), 1)
        [s] = c.record(qs)
        self.assertEqual((s["status"], s["message_id"]), ("sent", "<hist-sent@client.test>"))
        self.assertEqual(len(s["attempts"]), 1)
        self.assertTrue(s["attempts"][0]["tls"])

        # Searching: newest first; by queue id, Message-ID, sender, recipient, status.
        status, body, _ = api.get("/deliveries")
        self.assertEqual(status, 200, body)
        self.assertEqual([r["queue_id"] for r in body["items"]][:3], [qd, qb, qs])
        self.assertIsNone(body["next_page"])
        self.assertLessEqual(body["history"]["bytes"], body["history"]["max_bytes"])
        self.assertEqual(body["history"]["max_bytes"], 64 << 20)  # the default

        def found(**q):
            from urllib.parse import urlencode
            status, body, _ = api.get("/deliveries?" + urlencode(q))
            self.assertEqual(status, 200, body)
            return [r["queue_id"] for r in body["items"]]
        self.assertEqual(found(q=qs), [qs])
        self.assertEqual(found(q=qs.lower()), [qs])  # case-insensitive
        self.assertEqual(found(q="<hist-bounce@client.test>"), [qb])
        self.assertEqual(found(q="hist-defer@"), [qd])
        self.assertEqual(found(q=ALICE), [qd, qb, qs])
        self.assertEqual(found(q="defer@remote"), [qd])
        self.assertEqual(found(q="nobody-here"), [])
        self.assertEqual(found(status="bounced"), [qb])
        self.assertEqual(found(status="sent", q="remote.test"), [qd, qs])
        # Pages by cursor: one at a time, no repeats, no gaps.
        seen, page = [], None
        while True:
            q = {"per_page": "1", "q": ALICE}
            if page:
                q["page"] = page
            from urllib.parse import urlencode
            status, body, _ = api.get("/deliveries?" + urlencode(q))
            self.assertEqual(status, 200, body)
            seen += [r["queue_id"] for r in body["items"]]
            page = body["next_page"]
            if not page:
                break
            self.assertRegex(page, r"^\d+\.\d+$")
        self.assertEqual(seen, [qd, qb, qs])

        # Deleted by the administrator: a record of its own, with the attempt it had.
        c.failing = True
        qx = c.deliver("defer-del@remote.test", "hist-deleted", "deferred")
        c.idle(qx)
        status, body, _ = api.post(f"/queue/{qx}/delete")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        [x] = c.record(qx)
        self.assertEqual(x["status"], "deleted")
        self.assertIn("deleted by the administrator", x["reply"])
        self.assertEqual(x["message_id"], "<hist-deleted@client.test>")
        self.assertEqual([a["status"] for a in x["attempts"]], ["deferred"])
        self.assertEqual(found(status="deleted"), [qx])
        # Returned to the sender by the administrator (taube queue bounce): expired.
        qy = c.deliver("defer-exp@remote.test", "hist-expired", "deferred")
        c.idle(qy)
        status, body, _ = api.post(f"/queue/{qy}/bounce")
        self.assertEqual((status, body["result"]), (200, "done"), body)
        m = c.srv.wait_log(o.status_rx("defer-exp@remote.test", "expired", qy), 10)
        self.assertIsNotNone(m, c.diag())
        [y] = c.record(qy)
        # What the log line says (Postfix's expired line keeps the last deferral's code).
        self.assertEqual((y["status"], y["dsn"], y["reply"]), ("expired", m.group("dsn"),
                                                                m.group("text")))
        self.assertEqual([a["reply"] for a in y["attempts"]], ["451 4.7.1 try later"])
        self.assertEqual(found(status="expired"), [qy])

        # Another restart: all of it is still there, and no attempts file is left behind.
        api = c.restart()
        self.assertEqual(found(q=ALICE), [qy, qx, qd, qb, qs])
        self.assertEqual(len(c.record(qd)[0]["attempts"]), 2)
        hist = o.queue_path(c.srv) / "history"
        self.assertEqual(list((hist / "attempts").iterdir()), [])
        self.assertTrue(list(hist.glob("*.jsonl")))

    def test_the_cap_drops_the_oldest_records(self):
        c = Setup(self, history_mb=1)
        cap = 1 << 20
        # 100 recipients a message with long local parts: about 750 octets a record.
        qids, written = [], 0
        n = 0
        while written < 2 * cap:
            rcpts = [f"{'r' * 48}-{n:03d}-{i:03d}@remote.test" for i in range(100)]
            qid = c.deliver(rcpts[-1], f"cap-{n}", "sent", rcpts=rcpts)
            qids.append(qid)
            # Two transactions of 50 ([outbound] max_recipients): both records, in some order.
            items = c.record(qid, n=100)
            self.assertEqual(len(items), 100)
            written += sum(len(str(i)) for i in items)
            n += 1
        hist = o.queue_path(c.srv) / "history"
        segments = sorted(hist.glob("*.jsonl"))
        on_disk = sum(p.stat().st_size for p in segments)
        self.assertLessEqual(on_disk, cap)
        self.assertGreaterEqual(on_disk, cap * 8 // 10)
        self.assertGreater(len(segments), 5)
        status, body, _ = c.api.get("/deliveries?per_page=1")
        self.assertEqual(body["history"], {"bytes": on_disk, "max_bytes": cap,
                                           "segments": len(segments)})
        self.assertEqual(body["items"][0]["queue_id"], qids[-1])
        # The oldest went first; the newest message is whole.
        self.assertEqual(c.api.get(f"/deliveries/{qids[0]}")[0], 404)
        self.assertEqual(len(c.record(qids[-1], n=100)), 100)
        # Every line on disk is a whole record (rotation never cuts one).
        for p in segments:
            data = p.read_bytes()
            self.assertTrue(data.endswith(b"\n"), p)

    def test_authorisation_and_bad_input(self):
        c = Setup(self)
        anon = Api(c.port)
        self.addCleanup(anon.close)
        for path in ("/deliveries", "/deliveries?q=x", "/deliveries/ABC"):
            status, body, _ = anon.get(path)
            self.assertEqual((status, body), (401, {"error": "not logged in"}), path)
        api = c.api
        for query, what in [("status=delivered", "status"), ("status=SENT", "status"),
                            ("page=abc", "page"), ("page=1", "page"), ("page=-1.0", "page"),
                            ("per_page=0", "per_page"), ("per_page=201", "per_page"),
                            ("per_page=100000000000000000000", "per_page"),
                            ("per_page=x", "per_page"), ("q=" + "x" * 257, "q"),
                            ("q=a&q=b", "twice"), ("sender=x", "unknown parameter"),
                            ("q=%zz", ""), ("q=%0a", "")]:
            status, body, _ = api.get("/deliveries?" + query)
            self.assertEqual(status, 400, (query, body))
            self.assertIn(what, body["error"], query)
        status, body, _ = api.get("/deliveries/..")
        self.assertEqual(status, 400, body)
        status, body, _ = api.get("/deliveries/NOSUCHID")
        self.assertEqual(status, 404, body)
        self.assertIn("NOSUCHID", body["error"])
        self.assertEqual(api.post("/deliveries")[0], 405)
        self.assertEqual(api.get("/deliveries?per_page=200&page=")[0], 200)

    def test_history_off(self):
        c = Setup(self, history_mb=0)
        qid = c.deliver(SENT, "hist-off", "sent")
        status, body, _ = c.api.get("/deliveries")
        self.assertEqual(status, 503, body)
        self.assertIn("history_size_mb", body["error"])
        self.assertEqual(c.api.get(f"/deliveries/{qid}")[0], 503)
        self.assertFalse((o.queue_path(c.srv) / "history").exists())

    def test_a_bad_history_size_is_refused_naming_the_key(self):
        for bad in (-1, 65537, "big"):
            cfg = o.config(queue={"history_size_mb": bad})
            with self.assertRaises(AssertionError) as e:
                h.Taube(cfg)
            self.assertIn("history_size_mb", str(e.exception))

    def test_the_page_finds_a_delivery(self):
        if webdriver is None or not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
            self.skipTest("needs Debian chromium, chromium-driver and python3-selenium")
        c = Setup(self)
        c.failing = False
        c.deliver(BOUNCE, "page-bounce", "bounced")
        qid = c.deliver(DEFER, "page-find", "sent")
        c.record(qid)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB"):
            opts.add_argument(a)
        d = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.addCleanup(d.quit)
        d.set_window_size(*SIZES["desktop"])
        wait = WebDriverWait(d, 10)
        base = f"http://127.0.0.1:{c.port}/console/"
        d.get(base + "deliveries.html")
        wait.until(EC.url_contains("login.html"))
        d.find_element(By.ID, "user").send_keys(ADMIN)
        d.find_element(By.ID, "password").send_keys(ADMIN_PW)
        d.find_element(By.ID, "login").click()
        wait.until(EC.url_contains("deliveries.html"))
        nav = wait.until(EC.presence_of_element_located((By.ID, "nav-deliveries")))
        self.assertEqual(nav.get_attribute("class"), "current")
        # Both deliveries listed; a search by Message-ID leaves the one.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.delivery")) == 2)
        d.find_element(By.ID, "f-q").send_keys("<page-find@client.test>")
        d.find_element(By.ID, "search").click()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "tr.delivery")) == 1)
        row = d.find_element(By.CSS_SELECTOR, "tr.delivery")
        self.assertEqual(row.get_attribute("data-qid"), qid)
        self.assertIn(DEFER, row.text)
        self.assertIn("sent", row.text)
        self.assertIn("q=%3Cpage-find%40client.test%3E", d.current_url)
        row.find_element(By.CSS_SELECTOR, "a.qid").click()
        wait.until(EC.visibility_of_element_located((By.ID, "detail")))
        wait.until(EC.text_to_be_present_in_element((By.ID, "d-records"), "250"))
        detail = d.find_element(By.ID, "detail").text
        self.assertIn("<page-find@client.test>", detail)
        self.assertIn("127.0.0.2", detail)
        self.assertEqual(len(d.find_elements(By.CSS_SELECTOR, "#detail tr.attempt")), 1)
        OUT.mkdir(parents=True, exist_ok=True)
        for size, (w, hgt) in SIZES.items():
            d.set_window_size(w, hgt)
            inner = d.execute_script("return [window.innerWidth, window.innerHeight]")
            d.set_window_size(w + (w - inner[0]), hgt + (hgt - inner[1]))
            time.sleep(0.4)
            wide = d.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(wide, 0, f"deliveries at {size} scrolls sideways by {wide} px")
            d.execute_script("window.scrollTo(0, 0)")
            d.save_screenshot(str(OUT / f"deliveries-{size}.png"))
        # A bookmark of the message opens it directly.
        d.get(base + f"deliveries.html?id={qid}")
        wait.until(EC.text_to_be_present_in_element((By.ID, "d-qid"), qid))
        wait.until(EC.text_to_be_present_in_element((By.ID, "d-records"), DEFER))
        # The message page of a message that left the queue leads to its history (the pages
        # name messages by queue file).
        [rec] = c.record(qid)
        d.get(base + "message.html?id=" + rec["queue_file"])
        link = wait.until(EC.element_to_be_clickable((By.ID, "to-history")))
        link.click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "d-qid"), rec["queue_file"]))
        wait.until(EC.text_to_be_present_in_element((By.ID, "d-records"), DEFER))


if __name__ == "__main__":
    h.main()

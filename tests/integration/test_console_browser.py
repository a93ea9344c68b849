"""The web console in a real headless Chromium (Debian chromium + chromium-driver, driven by
Debian's python3-selenium): log in, see a message deferred by a destination answering 451,
open it and read the SMTP transcript, press "Retry now" once the destination recovers and see
it delivered, hold and release from the queue table, bulk delete, the live log showing a new
transaction, and the overview's plot drawn. Screenshots of every page at 1280x800 and 390x844
(a phone) go to $TAUBE_TEST_OUTPUT/test_console_browser/ (default: the working directory,
build/tests under ctest); the test also checks that no page is wider than its window."""

import os
import sys
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
except ImportError:  # checked in main(): a clear skip, never a pass
    webdriver = None
    # python3-selenium is a Debian module: ctest may have started another python3 (a pyenv one
    # first on PATH); the same test again under Debian's.
    if __name__ == "__main__" and os.path.realpath(sys.executable) != os.path.realpath(
            DEBIAN_PYTHON) and os.access(DEBIAN_PYTHON, os.X_OK):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, *sys.argv])

from console_client import ADMIN, ADMIN_PW, ConsoleSetup  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import BOB  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
OUT = Path(os.environ.get("TAUBE_TEST_OUTPUT", Path.cwd())) / "test_console_browser"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.set_window_size(*SIZES["desktop"])
    return d


class ConsoleBrowser(unittest.TestCase):
    def setUp(self):
        self.c = ConsoleSetup(self)
        self.srv = self.c.srv
        self.base = f"http://127.0.0.1:{self.c.port}/console/"
        self.d = browser()
        self.addCleanup(self.d.quit)
        OUT.mkdir(parents=True, exist_ok=True)

    def diag(self) -> str:
        return self.c.diag()

    def wait(self, cond, timeout=10):
        return WebDriverWait(self.d, timeout).until(cond)

    def text_of(self, id_):
        return self.d.find_element(By.ID, id_).text

    def confirm(self):
        yes = self.wait(EC.element_to_be_clickable((By.ID, "confirm-yes")))
        yes.click()
        self.wait(lambda d: not d.find_element(By.ID, "confirm").get_attribute("open"))

    def shoot(self, name):
        """Both sizes; the page must not scroll sideways at either."""
        for size, (w, hgt) in SIZES.items():
            # The window's inner size: set the outer size, then correct by what is missing.
            self.d.set_window_size(w, hgt)
            inner = self.d.execute_script("return [window.innerWidth, window.innerHeight]")
            self.d.set_window_size(w + (w - inner[0]), hgt + (hgt - inner[1]))
            time.sleep(0.4)  # the page redraws (the plot follows the width)
            wide = self.d.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(wide, 0, f"{name} at {size} scrolls sideways by {wide} px")
            self.d.save_screenshot(str(OUT / f"{name}-{size}.png"))
        self.d.set_window_size(*SIZES["desktop"])

    def login(self, page="queue.html"):
        self.d.get(self.base + page)
        self.wait(EC.url_contains("login.html"))
        self.shoot("login")
        self.d.find_element(By.ID, "user").send_keys(ADMIN)
        self.d.find_element(By.ID, "password").send_keys(ADMIN_PW)
        self.d.find_element(By.ID, "login").click()
        self.wait(EC.url_contains(page))

    def test_the_console_in_a_browser(self):
        qid = self.c.submit_deferred("browser-retry")
        # A wrong password first: an error on the page, no session.
        self.d.get(self.base + "login.html")
        self.d.find_element(By.ID, "user").send_keys(ADMIN)
        self.d.find_element(By.ID, "password").send_keys("wrong")
        self.d.find_element(By.ID, "login").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "wrong user or password"))
        self.login("queue.html")

        # The deferred message in the table, with the remote's reply.
        row = self.wait(EC.presence_of_element_located((By.ID, "row-" + qid)))
        self.wait(lambda d: "deferred" in d.find_element(By.ID, "row-" + qid).text)
        self.assertIn("451 4.7.1 try later", row.text)
        self.assertIn(BOB, row.text)
        self.shoot("queue")

        # Its page: envelope and the SMTP transcript of the attempt.
        row.find_element(By.CSS_SELECTOR, "a.qid").click()
        self.wait(EC.url_contains("message.html"))
        self.wait(EC.text_to_be_present_in_element((By.ID, "transcript"), "451 4.7.1 try later"))
        self.assertIn("RCPT TO:<bob@remote.test>", self.text_of("transcript"))
        self.assertIn("Subject: browser-retry", self.text_of("headers"))
        self.assertIn(o.ALICE, self.text_of("envelope"))
        # The notice a bounce would send, built when its panel is opened; nothing is sent.
        self.d.find_element(By.CSS_SELECTOR, "#dsn-panel summary").click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "dsn"), "Action: failed"))
        self.assertIn(f"To <{o.ALICE}>, reporting <{BOB}> as failed", self.text_of("dsn-why"))
        self.assertIsNone(self.srv.wait_log(r"non-delivery notification", 0))
        self.shoot("message")

        # The destination recovers; "Retry now", confirmed, delivers it.
        self.c.failing = False
        self.d.find_element(By.ID, "act-retry").click()
        self.confirm()
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "retry now: done"))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 15), self.diag())
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "no longer in the queue"))

        # Hold and release from the table.
        self.c.failing = True
        held = self.c.submit_deferred("browser-hold")
        self.d.get(self.base + "queue.html")
        self.wait(lambda d: "deferred" in d.find_element(By.ID, "row-" + held).text)
        self.d.find_element(By.ID, "act-hold-" + held).click()
        self.confirm()
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "hold: done"))
        self.wait(EC.presence_of_element_located((By.CSS_SELECTOR, f"#row-{held} .state.hold")))
        self.assertIsNotNone(self.srv.wait_log(held + ": placed on hold", 5))
        self.shoot("queue-held")
        self.wait(EC.element_to_be_clickable((By.ID, "act-release-" + held))).click()
        self.confirm()
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "release: done"))
        self.assertIsNotNone(self.srv.wait_log(held + ": released from hold", 5))

        # Bulk delete: two more, selected with their boxes.
        doomed = [self.c.submit_deferred(f"browser-bulk-{i}") for i in range(2)]
        for qid2 in doomed + [held]:
            self.c.wait_idle(self._api(), qid2)
        self.d.refresh()
        for qid2 in doomed:
            box = self.wait(EC.element_to_be_clickable(
                (By.CSS_SELECTOR, f"#row-{qid2} input.pick")))
            box.click()
        self.wait(EC.text_to_be_present_in_element((By.ID, "selected"), "2 selected"))
        self.d.find_element(By.ID, "bulk-delete").click()
        self.confirm()
        self.wait(EC.text_to_be_present_in_element((By.ID, "notice"), "delete: 2 done"))
        for qid2 in doomed:
            self.wait(EC.invisibility_of_element_located((By.ID, "row-" + qid2)))
            self.assertIsNotNone(self.srv.wait_log(qid2 + r": removed", 5))
        self.assertTrue(self.d.find_elements(By.ID, "row-" + held))

        # The live log shows a new transaction as it happens.
        self.d.get(self.base + "log.html")
        self.wait(EC.text_to_be_present_in_element((By.ID, "status"), "connected"))
        live = o.submit(self.srv, o.ALICE, [BOB], o.message("browser-live"))
        self.wait(EC.text_to_be_present_in_element((By.ID, "log"), f"{live}: to=<{BOB}>"))
        self.shoot("log")

        # The overview: counts and the plot of this test's mail.
        self.d.get(self.base)
        self.wait(EC.text_to_be_present_in_element((By.ID, "legend"), "received"))
        pts = self.d.find_element(By.CSS_SELECTOR, "polyline.series-received").get_attribute(
            "points")
        self.assertGreaterEqual(len(pts.split()), 60)
        self.assertRegex(self.text_of("legend"), r"received [1-9]")
        self.assertIn("Queued messages", self.text_of("cards"))
        # The TLS share: this test's sessions are all plaintext, in and out (0%), drawn as a
        # line (or a point) at the bottom of the small plot.
        self.assertRegex(self.text_of("tls-share-inbound"), r"inbound 0% of [1-9]")
        self.assertRegex(self.text_of("tls-share-outbound"), r"outbound 0% of [1-9]")
        self.assertTrue(self.d.find_elements(
            By.CSS_SELECTOR, "#tls-chart .tls-inbound, #tls-chart .tls-outbound"))
        self.shoot("overview")

        # Logging out ends the session: the queue page sends back to the login.
        self.d.find_element(By.ID, "logout").click()
        self.wait(EC.url_contains("login.html"))
        self.d.get(self.base + "queue.html")
        self.wait(EC.url_contains("login.html"))

    def _api(self):
        from console_client import Api
        api = Api(self.c.port)
        self.addCleanup(api.close)
        api.login()
        return api


if __name__ == "__main__":
    if webdriver is None or not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
        print("SKIP: needs Debian chromium, chromium-driver and python3-selenium "
              "(scripts/install-deps.sh test) and /usr/bin/python3", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()

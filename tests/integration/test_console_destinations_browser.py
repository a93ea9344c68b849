"""The Destinations page (web/destinations.html) in a real headless Chromium (Debian chromium +
chromium-driver, driven by Debian's python3-selenium), after the deliveries of
test_console_destinations.py's setup: reached from the navigation, it shows the destination
answering 451 with its deferral and its last error, the unreachable one held back, the one
whose TLS broke with its TLS failure, the accepting one with its deliveries; the order follows
the sort menu and is kept in the address. Screenshots at 1280x800 and 390x844 go to
$TAUBE_TEST_OUTPUT/test_console_destinations_browser/ (default: the working directory); no
size scrolls sideways."""

import os
import re
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
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:  # checked in main(): a clear skip, never a pass
    webdriver = None
    # python3-selenium is a Debian module: the same test again under Debian's python3.
    if __name__ == "__main__" and os.path.realpath(sys.executable) != os.path.realpath(
            DEBIAN_PYTHON) and os.access(DEBIAN_PYTHON, os.X_OK):
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, *sys.argv])

from console_client import ADMIN, ADMIN_PW  # noqa: E402
from test_console_destinations import DestinationsSetup  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
OUT = Path(os.environ.get("TAUBE_TEST_OUTPUT", Path.cwd())) / "test_console_destinations_browser"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def row_id(key: str) -> str:
    """destinations.js's id of a destination's row."""
    return "dest-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


class DestinationsBrowser(unittest.TestCase):
    def setUp(self):
        self.c = DestinationsSetup(self)
        self.base = f"http://127.0.0.1:{self.c.port}/console/"
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-GB"):
            opts.add_argument(a)
        self.d = webdriver.Chrome(service=Service(DRIVER), options=opts)
        self.addCleanup(self.d.quit)
        self.d.set_window_size(*SIZES["desktop"])
        OUT.mkdir(parents=True, exist_ok=True)

    def wait(self, cond, timeout=10):
        return WebDriverWait(self.d, timeout).until(cond)

    def shoot(self, name):
        """Both sizes; the page must not scroll sideways at either."""
        for size, (w, hgt) in SIZES.items():
            self.d.set_window_size(w, hgt)
            inner = self.d.execute_script("return [window.innerWidth, window.innerHeight]")
            self.d.set_window_size(w + (w - inner[0]), hgt + (hgt - inner[1]))
            time.sleep(0.4)
            wide = self.d.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth")
            self.assertLessEqual(wide, 0, f"{name} at {size} scrolls sideways by {wide} px")
            self.d.save_screenshot(str(OUT / f"{name}-{size}.png"))
            # The whole page too, for a look at every row.
            height = self.d.execute_script("return document.documentElement.scrollHeight")
            self.d.set_window_size(w + (w - inner[0]), height + (hgt - inner[1]))
            time.sleep(0.2)
            self.d.save_screenshot(str(OUT / f"{name}-{size}-full.png"))
        self.d.set_window_size(*SIZES["desktop"])

    def test_the_destinations_page(self):
        k = self.c.keys
        self.d.get(self.base)
        self.wait(EC.url_contains("login.html"))
        self.d.find_element(By.ID, "user").send_keys(ADMIN)
        self.d.find_element(By.ID, "password").send_keys(ADMIN_PW)
        self.d.find_element(By.ID, "login").click()
        self.wait(EC.presence_of_element_located((By.ID, "nav-destinations"))).click()
        self.wait(EC.url_contains("destinations.html"))

        # The deferring destination: its deferral in the last hour and the remote's reply.
        row = self.wait(EC.presence_of_element_located((By.ID, row_id(k["defer"]))))
        self.wait(lambda d: "451 4.7.1 try later" in d.find_element(By.ID, row_id(k["defer"])).text)
        self.assertIn("1 deferred", row.text)
        self.assertIn("failing", row.text)
        self.assertIn("never", row.text)  # no success yet
        # The unreachable one held back, the broken TLS one with its failure, the good one.
        dead = self.d.find_element(By.ID, row_id(k["dead"])).text
        self.assertIn("held back until", dead)
        self.assertIn("1 failure in a row", dead)
        self.assertIn("1 connection error", dead)
        self.assertRegex(dead, r"(?i)connection refused")
        tls = self.d.find_element(By.ID, row_id(k["tls"])).text
        self.assertIn("1 TLS failure", tls)
        self.assertIn("plaintext until", tls)
        self.assertIn("2 sent", self.d.find_element(By.ID, row_id(k["ok"])).text)
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#card-held .value").text, "1")
        self.assertEqual(self.d.find_element(By.CSS_SELECTOR, "#card-deferred .value").text, "1")
        self.assertIn("4 destination(s)", self.d.find_element(By.ID, "count").text)
        self.shoot("destinations")

        # The order follows the menu and stays in the address.
        Select(self.d.find_element(By.ID, "sort")).select_by_value("held")
        self.wait(EC.url_contains("sort=held"))
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#rows tr")[0].get_attribute("id")
                  == row_id(k["dead"]))
        self.d.refresh()
        self.wait(lambda d: d.find_element(By.ID, "sort").get_attribute("value") == "held")


if __name__ == "__main__":
    if webdriver is None or not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
        print("SKIP: needs Debian chromium, chromium-driver and python3-selenium "
              "(scripts/install-deps.sh test) and /usr/bin/python3", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()

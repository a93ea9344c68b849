"""`taube route <domain>` against tests/support/taubetest/dns_server.py: MX order (RFC 5321
§5.1), equal preferences, the implicit MX, null MX (RFC 7505, 556 5.1.10), NXDOMAIN (5.1.2),
SERVFAIL and a server that never answers (4.4.3, in bounded time), address literals, and the
self tests (an MX that is our host name, an address we listen on: 554 5.4.6).

Names use the .example TLD: unbound answers .test (and .invalid, .localhost, ...) itself as
locally served zones (RFC 6761), without asking the forwarder.
"""

import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest.dns_server import DnsServer  # noqa: E402

ZONE = {
    "two.example": {"MX": [[20, "mx2.two.example"], [10, "MX1.two.example."]]},
    "mx1.two.example": {"A": ["127.0.0.2"]},
    "mx2.two.example": {"A": ["127.0.0.3"], "AAAA": ["::1"]},
    "equal.example": {"MX": [[10, "a.equal.example"], [10, "b.equal.example"],
                             [20, "c.equal.example"]]},
    "a.equal.example": {"A": ["127.0.0.4"]},
    "b.equal.example": {"A": ["127.0.0.5"]},
    "c.equal.example": {"A": ["127.0.0.6"]},
    "implicit.example": {"A": ["127.0.0.7"]},
    "nomail.example": {"MX": [[0, "."]]},
    "gone.example": "NXDOMAIN",
    "broken.example": "SERVFAIL",
    "slow.example": "TIMEOUT",
    "self.example": {"MX": [[10, "mx.self.example"], [20, "backup.self.example"]]},
    "backup.self.example": {"A": ["127.0.0.8"]},
    "mx.self.example": {"A": ["127.0.0.9"]},
    "loopaddr.example": {"MX": [[10, "here.loopaddr.example"]]},
    "here.loopaddr.example": {"A": ["127.0.0.1"]},
}

dns: DnsServer | None = None
workdir = Path(tempfile.mkdtemp(prefix="taube-dns-"))


def setUpModule():
    global dns
    dns = DnsServer(ZONE).start()


def tearDownModule():
    if dns:
        dns.stop()
    import shutil
    shutil.rmtree(workdir, ignore_errors=True)


def route(domain: str, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess:
    args = [h.taube_bin(), "route", domain, *extra]
    if "--config" not in extra:
        args += ["--dns-server", dns.address]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def targets(p: subprocess.CompletedProcess) -> list[str]:
    return p.stdout.splitlines()


class Route(unittest.TestCase):
    def assertOk(self, p):
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_mx_order_two_preferences(self):
        p = route("two.example")
        self.assertOk(p)
        # ipv6-first by default: mx2's AAAA before its A; mx1 (preference 10) first.
        self.assertEqual(targets(p), ["10 mx1.two.example 127.0.0.2",
                                      "20 mx2.two.example ::1",
                                      "20 mx2.two.example 127.0.0.3"])
        p = route("two.example", "--family", "ipv4-only")
        self.assertEqual(targets(p), ["10 mx1.two.example 127.0.0.2",
                                      "20 mx2.two.example 127.0.0.3"])

    def test_equal_preference_both_appear_in_either_order(self):
        orders = set()
        for _ in range(12):
            p = route("equal.example")
            self.assertOk(p)
            lines = targets(p)
            self.assertEqual(sorted(lines[:2]), ["10 a.equal.example 127.0.0.4",
                                                 "10 b.equal.example 127.0.0.5"])
            self.assertEqual(lines[2], "20 c.equal.example 127.0.0.6")
            orders.add(tuple(lines[:2]))
            if len(orders) == 2:
                break
        # RFC 5321 §5.1 randomizes equal preferences: 12 runs show both orders (p = 1 - 2^-11).
        self.assertEqual(len(orders), 2)

    def test_implicit_mx(self):
        p = route("Implicit.Example.")
        self.assertOk(p)
        self.assertEqual(targets(p), ["0 implicit.example 127.0.0.7"])

    def test_null_mx(self):
        p = route("nomail.example")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith("556 5.1.10 "), p.stdout)

    def test_nxdomain(self):
        p = route("gone.example")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith("550 5.1.2 "), p.stdout)

    def test_servfail(self):
        p = route("broken.example")
        self.assertEqual(p.returncode, 75)
        self.assertTrue(p.stdout.startswith("451 4.4.3 "), p.stdout)

    def test_timeout_is_bounded(self):
        t0 = time.monotonic()
        p = route("slow.example", "--timeout", "1.5")
        took = time.monotonic() - t0
        self.assertEqual(p.returncode, 75, p.stdout + p.stderr)
        self.assertTrue(p.stdout.startswith("451 4.4.3 "), p.stdout)
        self.assertIn("timeout", p.stdout)
        self.assertLess(took, 6)
        self.assertGreater(dns.asked("slow.example", "MX"), 0)

    def test_literal_needs_no_dns(self):
        before = len(dns.queries)
        p = route("[127.0.0.2]")
        self.assertOk(p)
        self.assertEqual(targets(p), ["0 [127.0.0.2] 127.0.0.2"])
        p = route("[IPv6:::1]")
        self.assertOk(p)
        self.assertEqual(targets(p), ["0 [IPv6:::1] ::1"])
        self.assertEqual(len(dns.queries), before)
        p = route("[999.0.0.1]")
        self.assertTrue(p.stdout.startswith("550 5.1.2 "), p.stdout)

    def config(self, text: str) -> str:
        path = workdir / f"c{time.monotonic_ns()}.toml"
        path.write_text(text)
        return str(path)

    def test_self_mx_and_config(self):
        cfg = self.config(f'hostname = "mx.self.example"\n[dns]\nservers = ["{dns.address}"]\n'
                          f'family = "ipv4-first"\n')
        # We are the preference-10 MX: only better ones remain, and there are none.
        p = route("self.example", "--config", cfg)
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith("554 5.4.6 "), p.stdout)
        # The implicit MX of our own name (it has an A record, no MX).
        p = route("mx.self.example", "--config", cfg)
        self.assertTrue(p.stdout.startswith("554 5.4.6 "), p.stdout)
        # Under another host name, both MX hosts.
        cfg2 = self.config(f'hostname = "elsewhere.example"\n[dns]\nservers = ["{dns.address}"]\n')
        p = route("self.example", "--config", cfg2)
        self.assertOk(p)
        self.assertEqual(targets(p), ["10 mx.self.example 127.0.0.9",
                                      "20 backup.self.example 127.0.0.8"])

    def test_address_we_listen_on(self):
        # The default listener is 127.0.0.1:2525; an MX resolving to 127.0.0.1 is us.
        p = route("loopaddr.example")
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stdout.startswith("554 5.4.6 "), p.stdout)

    def test_bad_config(self):
        cfg = self.config('[dns]\nservers = ["nonsense"]\n')
        p = route("two.example", "--config", cfg)
        self.assertEqual(p.returncode, 2)
        self.assertIn("dns.servers", p.stderr)


if __name__ == "__main__":
    h.main()

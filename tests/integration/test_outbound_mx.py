"""Delivery by MX (RFC 5321 §5.1) with a test DNS server ([dns] servers): MX preference order,
the next MX when the first is down or answers 421, the implicit MX (an A record only), the null
MX (RFC 7505), a domain that does not exist (bounced) or whose DNS fails (deferred), and the
transport table's bracket rule ("smtp:[host]:port" skips the MX lookup of host).

Needs tests/support/taubetest/dns_server.py (DnsServer); exits 77 (skipped) without it. Every
peer listens on the same port P on its own loopback address, and [outbound] port = P."""

import socket
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE  # noqa: E402
from taubetest.smtp_peer import SmtpPeer  # noqa: E402

try:
    from taubetest.dns_server import DnsServer  # noqa: E402
except ImportError:
    DnsServer = None

MX1, MX2, ALT = "127.0.0.2", "127.0.0.3", "127.0.0.4"
ZONE = {
    "mxdom.test": {"MX": [[20, "mx2.mxdom.test"], [10, "mx1.mxdom.test"]]},
    "mx1.mxdom.test": {"A": [MX1]},
    "mx2.mxdom.test": {"A": [MX2]},
    "amx.test": {"A": [MX2]},                        # no MX: the implicit MX (§5.1)
    "nullmx.test": {"MX": [[0, "."]]},               # RFC 7505
    "gone.test": "NXDOMAIN",
    "broken.test": "SERVFAIL",
    "hop.test": {"A": [MX1], "MX": [[10, "alt.hop.test"]]},
    "alt.hop.test": {"A": [ALT]},
}


def common_port() -> int:
    """A port free on all three peer addresses."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((MX1, 0))
            port = s.getsockname()[1]
        try:
            for a in (MX2, ALT):
                with socket.socket() as t:
                    t.bind((a, port))
            return port
        except OSError:
            continue
    raise AssertionError("no port free on every peer address")


class Mx(unittest.TestCase):
    def setUp(self):
        self.dns = DnsServer(ZONE)
        self.dns.__enter__()
        self.addCleanup(self.dns.__exit__, None, None, None)
        self.port = common_port()
        self.peers = {}

    def peer(self, host: str, **kw) -> SmtpPeer:
        p = SmtpPeer(host=host, port=self.port, **kw)
        self.addCleanup(p.stop)
        self.peers[host] = p
        return p

    def taube(self, routes: dict | None = None):
        self.srv = o.start(routes, outbound={"port": self.port},
                           extra={"dns": {"servers": [f"127.0.0.1:{self.dns.port}"]}})
        o.guard(self, self.srv)
        return self.srv

    def diag(self) -> str:
        out = o.diag(self.srv) + f"\n--- dns queries: {self.dns.queries}"
        for host, p in self.peers.items():
            out += f"\n--- peer {host}: {[s.commands[:6] for s in p.sessions()]}"
        return out

    def send(self, rcpt: str, marker: str) -> str:
        return o.submit(self.srv, ALICE, [rcpt], o.message(marker, to=rcpt))

    def test_lowest_preference_first(self):
        p1, p2 = self.peer(MX1), self.peer(MX2)
        self.taube()
        qid = self.send("u@mxdom.test", "mx-pref")
        self.assertEqual(len(p1.wait_for(1, 10)), 1, self.diag())
        self.assertEqual(p2.sessions(), [])
        m = self.srv.wait_log(o.status_rx("u@mxdom.test", "sent", qid), 5)
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.group("relay"), f"mx1.mxdom.test[{MX1}]:{self.port}")

    def test_next_mx_when_the_first_is_down(self):
        p2 = self.peer(MX2)  # nothing listens on MX1
        self.taube()
        self.send("u@mxdom.test", "mx-down")
        self.assertEqual(len(p2.wait_for(1, 10)), 1, self.diag())

    def test_next_mx_after_a_421_greeting(self):
        p1 = self.peer(MX1, greeting="421 4.3.2 too busy")
        p2 = self.peer(MX2)
        self.taube()
        self.send("u@mxdom.test", "mx-421")
        self.assertEqual(len(p2.wait_for(1, 10)), 1, self.diag())
        self.assertEqual(p1.messages(), [])

    def test_implicit_mx(self):
        p2 = self.peer(MX2)
        self.taube()
        self.send("u@amx.test", "mx-implicit")
        self.assertEqual(len(p2.wait_for(1, 10)), 1, self.diag())

    def test_bracketed_transport_host_skips_mx(self):
        p1, alt = self.peer(MX1), self.peer(ALT)
        self.taube({"remote.test": f"smtp:[hop.test]:{self.port}"})
        self.send("u@remote.test", "mx-bracket")
        self.assertEqual(len(p1.wait_for(1, 10)), 1, self.diag())
        self.assertEqual(alt.sessions(), [])

    def test_unbracketed_transport_host_uses_its_mx(self):
        p1, alt = self.peer(MX1), self.peer(ALT)
        self.taube({"remote.test": f"smtp:hop.test:{self.port}"})
        self.send("u@remote.test", "mx-unbracket")
        self.assertEqual(len(alt.wait_for(1, 10)), 1, self.diag())
        self.assertEqual(p1.sessions(), [])

    def bounced(self, rcpt: str, marker: str) -> dict:
        self.taube()
        self.send(rcpt, marker)
        got = o.wait_dsns(self.srv, ALICE, 1, 15, "failed")
        self.assertEqual(len(got), 1, self.diag())
        r = got[0].recipient(rcpt)
        self.assertTrue(r.get("status", "").startswith("5."), r)
        self.assertEqual(o.wait_queue_clear(self.srv, marker.encode()), [], self.diag())
        return r

    def test_null_mx_bounces(self):
        r = self.bounced("u@nullmx.test", "mx-null")
        self.assertEqual(r.get("status"), "5.1.10", r)  # RFC 7505 §4.2

    def test_nxdomain_bounces(self):
        self.bounced("u@gone.test", "mx-nx")

    def test_servfail_is_deferred(self):
        self.taube()
        qid = self.send("u@broken.test", "mx-servfail")
        self.assertIsNotNone(self.srv.wait_log(o.status_rx("u@broken.test", "deferred", qid),
                                               15), self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [])
        self.assertTrue(o.wait_queue_holding(self.srv, b"mx-servfail"))


if __name__ == "__main__":
    if DnsServer is None:
        print("SKIP: tests/support/taubetest/dns_server.py is not there yet", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()

"""TLS and AUTH on the way out: opportunistic STARTTLS (RFC 3207) with a fallback to plaintext
when the peer's handshake fails, [outbound] tls = "required" (deferred, never plaintext, RFC 3207
§4.1 / RFC 8314 spirit), and a smarthost that requires AUTH PLAIN (RFC 4954, RFC 4616) with the
credentials of [relay] smarthost_auth_file."""

import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, make_cert  # noqa: E402

tmp: tempfile.TemporaryDirectory
CERT: tuple[str, str]


def setUpModule():
    global tmp, CERT
    tmp = tempfile.TemporaryDirectory(prefix="taube-out-tls-")
    CERT = make_cert(tmp.name)


def tearDownModule():
    tmp.cleanup()


class Base(unittest.TestCase):
    def run_with(self, peer: SmtpPeer, **taube_kw):
        self.peer = peer
        self.addCleanup(peer.stop)
        self.srv = o.start({o.REMOTE: o.route(peer)}, **taube_kw)
        o.guard(self, self.srv)

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def delivered(self, marker: str, timeout: float = 15.0):
        o.submit(self.srv, ALICE, [BOB], o.message(marker))
        [m] = self.peer.wait_for(1, timeout) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertIn(f"marker {marker}".encode(), m.data)
        self.assertEqual(o.wait_queue_clear(self.srv, marker.encode()), [], self.diag())
        self.assertEqual(len(self.peer.messages()), 1, self.diag())
        return m


class Opportunistic(Base):
    def test_starttls_used_when_offered(self):
        self.run_with(SmtpPeer(tls=CERT))
        m = self.delivered("tls-opp")
        self.assertTrue(m.session.tls, "peer offered STARTTLS, session stayed plaintext" +
                        self.diag())
        self.assertRegex(m.session.tls_version or "", r"^TLSv1\.[23]$")
        self.assertEqual(m.session.plaintext_after_starttls, b"",
                         "commands pipelined past STARTTLS (RFC 3207 §4.2)")
        self.assertEqual(m.session.ehlo, h.HOSTNAME, "EHLO again after TLS (RFC 3207 §4.2)")
        rx = r"relay=127\.0\.0\.2\[127\.0\.0\.2\]:%d" % self.peer.port
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent"), 5), self.diag())
        self.assertRegex(self.srv.log_text(), rx)

    def fallback(self, fault: str):
        """The first session's handshake fails; the message still arrives, in plaintext."""
        self.run_with(SmtpPeer(tls=CERT, tls_fault=fault))
        m = self.delivered(f"tls-{fault}", timeout=20)
        self.assertFalse(m.session.tls)
        first = self.peer.sessions()[0]
        self.assertIn("STARTTLS", [c.upper() for c in first.commands], self.diag())
        self.assertGreater(m.session.number, first.number)
        self.assertEqual(self.srv.wait_log(o.status_rx(BOB, "bounced"), 0), None)

    def test_fallback_after_handshake_closed(self):
        self.fallback("close")

    def test_fallback_after_handshake_garbage(self):
        self.fallback("garbage")


class Required(Base):
    def test_required_without_starttls_is_deferred(self):
        self.run_with(SmtpPeer(), outbound={"tls": "required"})
        qid = o.submit(self.srv, ALICE, [BOB], o.message("tls-req"))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "deferred", qid), 10),
                             self.diag())
        # Retried (retry_max = 2), still never in plaintext, and no bounce before max_lifetime.
        self.assertTrue(self.peer.wait(lambda p: len(p.sessions()) >= 3, 15), self.diag())
        verbs = {c.split()[0].upper() for s in self.peer.sessions() for c in s.commands if c}
        self.assertFalse(verbs & {"MAIL", "RCPT", "DATA", "BDAT"}, self.diag())
        self.assertEqual(self.peer.messages(), [])
        self.assertEqual(o.dsns(self.srv, ALICE), [], "bounced before max_lifetime")
        self.assertTrue(o.wait_queue_holding(self.srv, b"tls-req"), "dropped from the queue")

    def test_required_with_starttls_delivers(self):
        self.run_with(SmtpPeer(tls=CERT), outbound={"tls": "required"})
        m = self.delivered("tls-req-ok")
        self.assertTrue(m.session.tls)

    def test_required_and_a_broken_handshake_never_falls_back(self):
        self.run_with(SmtpPeer(tls=CERT, tls_fault="close"), outbound={"tls": "required"})
        o.submit(self.srv, ALICE, [BOB], o.message("tls-req-broken"))
        self.assertTrue(self.peer.wait(lambda p: len(p.sessions()) >= 3, 15), self.diag())
        verbs = {c.split()[0].upper() for s in self.peer.sessions() for c in s.commands if c}
        self.assertFalse(verbs & {"MAIL", "RCPT", "DATA"}, "fell back to plaintext" +
                         self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [])


class SmarthostAuth(unittest.TestCase):
    USER, PW = "relayuser", "pa:ss word"  # split at the first colon only

    def smarthost(self, auth_line: str, **peer_kw):
        self.peer = SmtpPeer(tls=CERT, auth=(self.USER, self.PW), auth_required=True, **peer_kw)
        self.addCleanup(self.peer.stop)
        auth = Path(tmp.name) / f"auth-{self.id().rsplit('.', 1)[-1]}"
        auth.write_text(auth_line + "\n")
        auth.chmod(0o600)
        self.srv = o.start(None, relay={"smarthost": f"127.0.0.2:{self.peer.port}",
                                        "smarthost_tls": "starttls",
                                        "smarthost_auth_file": str(auth)})
        o.guard(self, self.srv)

    def test_auth_plain_with_the_configured_credentials(self):
        self.smarthost(f"{self.USER}:{self.PW}")
        qid = o.submit(self.srv, ALICE, ["someone@far.example"],
                       o.message("auth-ok", to="someone@far.example"))
        [m] = self.peer.wait_for(1, 15) or [None]
        self.assertIsNotNone(m, o.diag(self.srv, self.peer))
        self.assertTrue(m.session.tls, "credentials must not go out in plaintext")
        self.assertIn((self.USER, self.PW, True), [a[1:] for a in m.session.auth])
        self.assertIsNotNone(self.srv.wait_log(o.status_rx("someone@far.example", "sent", qid),
                                               5), o.diag(self.srv, self.peer))

    def test_wrong_password_is_deferred_not_bounced(self):
        """535 5.7.8 is the smarthost refusing us, not the recipient: retry (Postfix defers
        SASL failures), no DSN before max_lifetime."""
        self.smarthost(f"{self.USER}:wrong")
        qid = o.submit(self.srv, ALICE, ["someone@far.example"],
                       o.message("auth-bad", to="someone@far.example"))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx("someone@far.example", "deferred",
                                                           qid), 10),
                             o.diag(self.srv, self.peer))
        self.assertTrue(self.peer.wait(lambda p: len(p.sessions()) >= 2, 10))
        self.assertEqual(self.peer.messages(), [])
        self.assertEqual(o.dsns(self.srv, ALICE), [])


if __name__ == "__main__":
    h.main("openssl")

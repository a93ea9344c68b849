"""LMTP delivery from Taube's queue (RFC 2033): a local domain ("store.test", in [delivery]
domains) whose [transport] entry is lmtp:..., so its recipients are checked against Taube's own
[users] at RCPT time and then delivered by LMTP instead of into Maildirs (Postfix's
virtual_transport = lmtp:unix:private/dovecot-lmtp).

  * Taube -> a second Taube's LMTP listener over TCP;
  * Taube -> a real, private Dovecot (taubetest/dovecot.py) over its unix socket and over TCP:
    two users delivered into Dovecot's Maildirs; a recipient Dovecot does not know (but Taube
    does) bounced with Dovecot's 550 5.1.1 and the other delivered; in ONE transaction one
    recipient delivered, one over quota with 552 5.2.2 (bounced) and one over quota with
    452 4.2.2 (deferred, still queued): one reply per recipient after the final dot (§4.2).
Skipped (77) when Dovecot's lmtp is not installed (Debian: dovecot-core, dovecot-lmtpd).
"""

import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import dovecot as dv  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE  # noqa: E402

STORE = "store.test"
ANN, BEN = f"ann@{STORE}", f"ben@{STORE}"
GHOST = f"ghost@{STORE}"    # a user of Taube's, unknown to the store
TINY = f"tiny@{STORE}"      # 1K quota: 552 5.2.2
TIGHT = f"tight@{STORE}"    # 1K quota, quota_full_tempfail: 452 4.2.2
STRANGER = f"nobody@{STORE}"  # unknown to Taube: refused at RCPT
BIG = b"x" * 72 + b"\r\n"   # 3.7 KB of body lines: over the 1K quotas

# Taube's users: alice (the sender, her bounces land in her Maildir), bob (the base config's
# aliases name him) and the store's users.
TAUBE_USERS = {ALICE: "", "bob@example.org": "", ANN: "", BEN: "", GHOST: "", TINY: "",
               TIGHT: ""}
DOVECOT_USERS = {ANN: {}, BEN: {}, TINY: {"quota": "1K"},
                 TIGHT: {"quota": "1K", "tempfail": True}}

dovecot: "dv.PrivateDovecot | None" = None


def setUpModule():
    global dovecot
    dovecot = dv.PrivateDovecot(DOVECOT_USERS)
    try:
        dovecot.start()
    except BaseException:
        dovecot.cleanup()
        raise


def tearDownModule():
    if dovecot is not None:
        dovecot.cleanup()


def taube(route: str, **extra) -> h.Taube:
    return o.start({STORE: route}, extra=h.merge({
        "delivery": {"domains": ["localhost", "example.org", STORE]},
        "users": TAUBE_USERS}, extra))


class Base(unittest.TestCase):
    """One Taube whose store.test goes to self.route() (set by the subclass)."""

    def setUp(self):
        self.srv = o.guard(self, taube(self.route()))

    def route(self) -> str:
        raise NotImplementedError

    def relay(self) -> str:
        """What the delivery log line says in relay=."""
        raise NotImplementedError

    def diag(self) -> str:
        return o.diag(self.srv) + dovecot.diag()

    def sent(self, rcpt: str, qid: str, status: str = "sent") -> re.Match:
        m = self.srv.wait_log(o.status_rx(rcpt, status, qid), 15)
        self.assertIsNotNone(m, f"no {status} line for {rcpt}" + self.diag())
        return m

    def one_dsn(self, action: str) -> o.Dsn:
        [d] = o.wait_dsns(self.srv, ALICE, 1, action=action) or [None]
        self.assertIsNotNone(d, f"no {action} notice to {ALICE}" + self.diag())
        return d


class DovecotCases:
    """The Dovecot cases, over one transport (the subclasses: unix socket, TCP)."""

    def test_two_users_delivered_into_dovecot(self):
        """Both copies land in Dovecot's Maildirs; the log lines name the LMTP peer; NOTIFY=
        SUCCESS gets a "delivered" notice (an LMTP server is the final delivery, and Dovecot
        offers no DSN to pass the request on to)."""
        marker = f"dv-two-{self.__class__.__name__}"
        qid = o.submit(self.srv, ALICE, [ANN, BEN], o.message(marker, to=ANN),
                       rcpt_params={ANN: "NOTIFY=SUCCESS"})
        for rcpt in (ANN, BEN):
            [f] = dovecot.wait_messages(rcpt, marker.encode()) or [None]
            self.assertIsNotNone(f, rcpt + self.diag())
            raw = f.read_bytes()
            # Dovecot's own trace fields: the envelope and the LHLO name Taube sent.
            self.assertRegex(raw, rb"^Return-Path: <alice@example\.org>\r?\n")
            self.assertRegex(raw, rb"(?m)^Received: from " + re.escape(h.HOSTNAME.encode())
                             + rb"[^\n]*\n\tby dovecot\.test with LMTP\b")
            self.assertIn(f"by {h.HOSTNAME} (Taube)".encode(), raw)
            self.assertIn(f"marker {marker}".encode(), raw)
            m = self.sent(rcpt, qid)
            self.assertEqual(m.group("relay"), self.relay())
            self.assertEqual(m.group("dsn"), "2.0.0")
            self.assertIn("Saved", m.group("text"))  # Dovecot's "250 2.0.0 <ann@...> ... Saved"
        d = self.one_dsn("delivered")
        r = d.recipient(ANN)
        self.assertEqual(r.get("action"), "delivered", r)
        self.assertTrue(r.get("status", "").startswith("2."), r)
        self.assertEqual(d.actions(), ["delivered"], "ben asked for no success notice")
        self.assertEqual(o.wait_queue_clear(self.srv, marker.encode()), [], self.diag())
        self.assertEqual(h.maildir_messages(self.srv.maildir(ANN)), [],
                         "store.test mail went into a Taube Maildir")

    def test_unknown_to_dovecot_bounced_other_delivered(self):
        """Dovecot refuses ghost at RCPT (550 5.1.1): ghost is bounced to the sender with
        Dovecot's reply, ann is delivered in the same transaction."""
        marker = f"dv-ghost-{self.__class__.__name__}"
        qid = o.submit(self.srv, ALICE, [GHOST, ANN], o.message(marker, to=ANN))
        self.assertEqual(len(dovecot.wait_messages(ANN, marker.encode())), 1, self.diag())
        self.sent(ANN, qid)
        m = self.sent(GHOST, qid, "bounced")
        self.assertEqual(m.group("dsn"), "5.1.1")
        self.assertEqual(m.group("relay"), self.relay())
        d = self.one_dsn("failed")
        r = d.recipient(GHOST)
        self.assertEqual(r.get("action"), "failed", r)
        self.assertEqual(r.get("status"), "5.1.1", r)
        self.assertRegex(r.get("diagnostic-code", ""),
                         r"^smtp; 550 5\.1\.1 <ghost@store\.test> User doesn't exist", r)
        self.assertEqual(len(d.recipients), 1, f"only ghost is reported: {d.recipients}")
        self.assertIn(marker, d.original_text())
        self.assertEqual(o.wait_queue_clear(self.srv, marker.encode()), [], self.diag())

    def test_one_delivered_one_bounced_one_deferred_in_one_transaction(self):
        """Over quota is a reply to the final dot (Dovecot checks the quota while saving):
        552 5.2.2 bounces tiny, 452 4.2.2 defers tight (the item stays queued for it alone),
        250 delivers ann, all three after the same DATA."""
        marker = f"dv-quota-{self.__class__.__name__}"
        qid = o.submit(self.srv, ALICE, [ANN, TINY, TIGHT],
                       o.message(marker, to=ANN, body=BIG * 50))
        self.assertEqual(len(dovecot.wait_messages(ANN, marker.encode())), 1, self.diag())
        self.sent(ANN, qid)
        b = self.sent(TINY, qid, "bounced")
        self.assertEqual(b.group("dsn"), "5.2.2")
        self.assertRegex(b.group("text"), r"^552 5\.2\.2 <tiny@store\.test> Quota exceeded")
        i, t = self.srv.find_log(o.status_rx(TIGHT, "deferred", qid), 15)
        self.assertIsNotNone(t, "no deferred line for tight" + self.diag())
        self.assertEqual(t.group("dsn"), "4.2.2")
        self.assertRegex(t.group("text"), r"^452 4\.2\.2 <tight@store\.test> Quota exceeded")
        d = self.one_dsn("failed")
        self.assertEqual(d.recipient(TINY).get("status"), "5.2.2")
        self.assertRegex(d.recipient(TINY).get("diagnostic-code", ""), r"^smtp; 552 5\.2\.2 ")
        self.assertEqual([r.get("final-recipient") for r in d.recipients],
                         [f"rfc822; {TINY}"], "only tiny failed")
        # Only tight is left to deliver: the item stays queued, is tried again (retry_min 1 s)
        # for tight alone, and neither ann nor tiny gets a second attempt.
        self.assertNotEqual(o.wait_queue_holding(self.srv, f"marker {marker}".encode()), [],
                            "the deferred recipient's message left the queue" + self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(TIGHT, "deferred", qid), 15,
                                               start=i + 1), "no retry for tight" + self.diag())
        for rcpt in (ANN, TINY):
            self.assertEqual(len([ln for ln in self.srv.lines()
                                  if re.search(o.status_rx(rcpt, r"\w+", qid), ln)]), 1, rcpt)
        self.assertEqual(len(dovecot.wait_messages(ANN, marker.encode(), 1, 0)), 1)
        self.assertEqual(dovecot.messages(TINY), [])
        self.assertEqual(dovecot.messages(TIGHT), [])

    def test_unknown_to_taube_refused_at_rcpt(self):
        """A local part Taube does not know is refused at RCPT (550 5.1.1), never queued for
        the store: no bounce later (backscatter)."""
        with h.RawClient(h.HOST, self.srv.port, 10) as c:
            c.greet()
            c.expect("250", f"MAIL FROM:<{ALICE}>")
            r = c.cmd(f"RCPT TO:<{STRANGER}>")
            self.assertEqual(r.code, 550, r.text)
            self.assertIn("5.1.1", r.text)
            c.cmd("QUIT")
        self.assertEqual(o.queue_left(self.srv), [])


class DovecotUnixSocket(Base, DovecotCases):
    def route(self) -> str:
        return f"lmtp:unix:{dovecot.socket}"

    def relay(self) -> str:
        return f"{h.HOSTNAME}[{dovecot.socket}]"  # Postfix: myhostname[private/dovecot-lmtp]

    def test_missing_socket_defers(self):
        """No socket at the path (the store is down): deferred with 4.4.1, still queued."""
        missing = dovecot.dir / "no-such-socket"
        srv = o.guard(self, taube(f"lmtp:unix:{missing}"))
        qid = o.submit(srv, ALICE, [ANN], o.message("dv-nosock", to=ANN))
        m = srv.wait_log(o.status_rx(ANN, "deferred", qid), 15)
        self.assertIsNotNone(m, o.diag(srv))
        self.assertEqual(m.group("dsn"), "4.4.1")
        self.assertEqual(m.group("text"),
                         f"connect to {h.HOSTNAME}[{missing}]: No such file or directory")
        self.assertNotEqual(o.wait_queue_holding(srv, b"marker dv-nosock"), [])


class DovecotTcp(Base, DovecotCases):
    def route(self) -> str:
        return f"lmtp:[{h.HOST}]:{dovecot.port}"

    def relay(self) -> str:
        return f"{h.HOST}[{h.HOST}]:{dovecot.port}"

    def test_dead_store_defers(self):
        """Nothing listening: deferred with 4.4.1, the mail waits in the queue."""
        srv = o.guard(self, taube(f"lmtp:[{h.HOST}]:{h.free_port()}"))
        qid = o.submit(srv, ALICE, [ANN], o.message("dv-dead", to=ANN))
        m = srv.wait_log(o.status_rx(ANN, "deferred", qid), 15)
        self.assertIsNotNone(m, o.diag(srv))
        self.assertEqual(m.group("dsn"), "4.4.1")
        self.assertIn("Connection refused", m.group("text"))


class ToTaubeLmtp(unittest.TestCase):
    """Taube A's queue -> Taube B's LMTP listener (protocol = "lmtp") over TCP."""

    def setUp(self):
        self.b = o.guard(self, h.Taube({
            "listener": [{"address": h.HOST, "port": 0, "protocol": "lmtp"}],
            "delivery": {"domains": [STORE]}, "aliases": None,
            "users": {ANN: "", BEN: ""}}))
        self.a = o.guard(self, taube(f"lmtp:[{h.HOST}]:{self.b.port}"))

    def diag(self) -> str:
        return o.diag(self.a) + "\n--- taube B:\n" + "\n".join(self.b.lines()[-40:])

    def test_delivered_by_lmtp_into_the_other_taube(self):
        """ann and ben land in B's Maildirs, received "with LMTP" from A; ghost, whom only A
        knows, is bounced by A with B's 550 5.1.1."""
        marker = "taube-to-taube-lmtp"
        qid = o.submit(self.a, ALICE, [ANN, GHOST, BEN], o.message(marker, to=ANN))
        for rcpt in (ANN, BEN):
            msgs = h.wait_messages(self.b.maildir(rcpt), 1)
            hits = [p for p in msgs if marker.encode() in p.read_bytes()]
            self.assertEqual(len(hits), 1, rcpt + self.diag())
            st = h.read_stored(hits[0])
            self.assertEqual(st.return_path, ALICE)
            self.assertEqual(st.r["with"], "LMTP")  # B saw LHLO (RFC 3848 §2)
            self.assertEqual(st.r["helo"], h.HOSTNAME)
            m = self.a.wait_log(o.status_rx(rcpt, "sent", qid), 15)
            self.assertIsNotNone(m, self.diag())
            self.assertEqual(m.group("relay"), f"{h.HOST}[{h.HOST}]:{self.b.port}")
        m = self.a.wait_log(o.status_rx(GHOST, "bounced", qid), 15)
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.group("dsn"), "5.1.1")
        [d] = o.wait_dsns(self.a, ALICE, 1, action="failed") or [None]
        self.assertIsNotNone(d, self.diag())
        self.assertEqual(d.recipient(GHOST).get("status"), "5.1.1")
        self.assertEqual(o.wait_queue_clear(self.a, marker.encode()), [], self.diag())


if __name__ == "__main__":
    if not dv.available():
        print(f"SKIP: Dovecot's LMTP server not installed ({dv.DOVECOT}, {dv.LMTP}: Debian "
              "dovecot-core, dovecot-lmtpd)", file=sys.stderr)
        sys.exit(h.SKIP)
    h.main()

"""Delivery status notifications from the outbound queue (RFC 3461 DSN extension, RFC 3464 report,
RFC 6522 multipart/report), read from the local sender's Maildir with Python's email package:
failures (5xx from the peer, expiry), partial failures, NOTIFY=NEVER/SUCCESS, parameters passed
on to a DSN-capable peer, delay warnings, no bounce of a bounce, SMTPUTF8 and SIZE refused
before the data is sent."""

import email.utils
import re
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import ALICE, BOB, CAROL  # noqa: E402
from taubetest.smtp_peer import SmtpPeer  # noqa: E402

STATUS_RX = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")
USER_UNKNOWN = "550 5.1.1 <carol@remote.test>: Recipient address rejected: User unknown"


def addr_field(group: dict, name: str) -> str:
    """An address-type; address field, the blank after ';' normalised (RFC 3464 §2.3.2 allows
    any), lower-cased."""
    return re.sub(r";\s*", "; ", group.get(name, "")).lower()


def refuse_carol(addr, n):
    return USER_UNKNOWN if addr == CAROL else None


class Base(unittest.TestCase):
    peer_kw: dict = {}
    queue: dict = {}

    def setUp(self):
        self.peer = SmtpPeer(**self.peer_kw)
        self.addCleanup(self.peer.stop)
        self.srv = o.start({o.REMOTE: o.route(self.peer)}, queue=self.queue)
        o.guard(self, self.srv)

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    def one_dsn(self, action: str, timeout: float = 15.0) -> o.Dsn:
        got = o.wait_dsns(self.srv, ALICE, 1, timeout, action)
        self.assertEqual(len(got), 1, f"no '{action}' DSN for {ALICE}" + self.diag())
        return got[0]

    def assert_report(self, d: o.Dsn, subject: str):
        """The shape every DSN has (RFC 3464 §2, RFC 6522 §3, RFC 3834 §5)."""
        self.assertEqual(d.content_type, "multipart/report", d)
        self.assertEqual(d.report_type, "delivery-status", d)
        self.assertEqual(d.return_path, "", "a DSN is sent with MAIL FROM:<> (RFC 3461 §6.2)")
        self.assertRegex(d.msg["From"], r"(?i)MAILER-DAEMON@", d)
        self.assertIn(ALICE, d.msg["To"])
        self.assertEqual(d.msg["Auto-Submitted"], "auto-replied")  # RFC 3834 §5
        self.assertEqual(len(d.parts), 3, d)
        self.assertEqual(d.parts[0].get_content_type(), "text/plain")
        self.assertIsNotNone(d.status_part, d)
        self.assertTrue(d.per_message.get("reporting-mta", "").startswith("dns; "), d)
        self.assertIn("arrival-date", d.per_message, d)
        self.assertIn(f"Subject: {subject}", d.original_text(), d)
        for r in d.recipients:
            self.assertRegex(r.get("status", ""), STATUS_RX, r)

    def assert_failed(self, d: o.Dsn, addr: str, code: str):
        r = d.recipient(addr)
        self.assertEqual(addr_field(r, "final-recipient"), f"rfc822; {addr}", r)
        self.assertEqual(r.get("action"), "failed", r)
        self.assertTrue(r.get("status", "").startswith(code), r)
        return r


class Failures(Base):
    peer_kw = {"rcpt": refuse_carol}

    def test_550_bounces_to_the_local_sender(self):
        qid = o.submit(self.srv, ALICE, [CAROL], o.message("dsn-550", to=CAROL))
        d = self.one_dsn("failed")
        self.assert_report(d, "dsn-550")
        self.assertEqual(d.parts[2].get_content_type(), "text/rfc822-headers")
        r = self.assert_failed(d, CAROL, "5.1.1")
        self.assertEqual(r.get("remote-mta"), "dns; 127.0.0.2", r)
        self.assertEqual(r.get("diagnostic-code"), "smtp; " + USER_UNKNOWN, r)
        self.assertEqual(len(d.recipients), 1)
        # Logged as Postfix does: the bounce, then the notice's own queue id.
        m = self.srv.wait_log(o.status_rx(CAROL, "bounced", qid), 5)
        self.assertIsNotNone(m, self.diag())
        self.assertIn(USER_UNKNOWN, m.group("text"))
        self.assertEqual(m.group("dsn"), "5.1.1")
        self.assertEqual(m.group("relay"), f"127.0.0.2[127.0.0.2]:{self.peer.port}")
        n = self.srv.wait_log(rf"\b{qid}: sender non-delivery notification: (\w+)", 5)
        self.assertIsNotNone(n, self.diag())
        self.assertNotEqual(n.group(1), qid)
        self.assertEqual(self.peer.messages(), [])
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-550"), [], self.diag())

    def test_partial_failure(self):
        """One 250 and one 550 in one transaction: one delivered, the bounce names only the
        failed recipient."""
        qid = o.submit(self.srv, ALICE, [BOB, CAROL], o.message("dsn-partial"))
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.rcpt_addrs(), [BOB])
        d = self.one_dsn("failed")
        self.assert_report(d, "dsn-partial")
        self.assert_failed(d, CAROL, "5.1.1")
        self.assertEqual(len(d.recipients), 1, f"only carol is reported: {d.recipients}")
        self.assertNotIn(BOB, d.parts[1].as_string())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5), self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-partial"), [], self.diag())
        self.assertEqual(len(o.dsns(self.srv, ALICE)), 1)

    def test_notice_delivery_logged(self):
        """The notice is a message of its own, its delivery logged like any other (Postfix:
        "NEWID: to=<alice@...>, relay=local, ..., status=sent")."""
        qid = o.submit(self.srv, ALICE, [CAROL], o.message("dsn-logged", to=CAROL))
        n = self.srv.wait_log(rf"\b{qid}: sender non-delivery notification: (\w+)", 10)
        self.assertIsNotNone(n, self.diag())
        self.assertEqual(len(o.wait_dsns(self.srv, ALICE, 1)), 1, self.diag())
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(ALICE, "sent", n.group(1)), 5),
                             "no delivery log line for the notice" + self.diag())

    def test_two_failures_one_notice(self):
        """Recipients failing in the same attempt are reported together, in one DSN."""
        self.peer.on_rcpt = lambda addr, n: f"550 5.1.1 <{addr}>: User unknown" \
            if addr != BOB else None
        qid = o.submit(self.srv, ALICE, [CAROL, BOB, "dave@remote.test"],
                       o.message("dsn-two"))
        d = self.one_dsn("failed")
        self.assertEqual(sorted(addr_field(r, "final-recipient") for r in d.recipients),
                         ["rfc822; carol@remote.test", "rfc822; dave@remote.test"])
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-two"), [], self.diag())
        self.assertEqual(len(o.dsns(self.srv, ALICE)), 1, "one notice per attempt")
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(BOB, "sent", qid), 5))

    def test_ret_full_and_envid(self):
        """RFC 3461 §4.3/§4.4: RET=FULL returns the whole message (message/rfc822), ENVID comes
        back as Original-Envelope-Id (RFC 3464 §2.2.1)."""
        o.submit(self.srv, ALICE, [CAROL], o.message("dsn-full", to=CAROL,
                                                     body=b"full body line\r\n"),
                 mail_params="RET=FULL ENVID=env-42")
        d = self.one_dsn("failed")
        self.assert_report(d, "dsn-full")
        self.assertEqual(d.parts[2].get_content_type(), "message/rfc822", d)
        self.assertIn("full body line", d.original_text())
        self.assertEqual(d.per_message.get("original-envelope-id"), "env-42", d.per_message)

    def test_mail_from_refused(self):
        """A 5xx to MAIL fails every recipient of the transaction with that status."""
        self.peer.on_rcpt = None
        self.peer.on_mail = lambda addr, params, n: "553 5.7.1 Sender address rejected"
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-mail"))
        d = self.one_dsn("failed")
        g = self.assert_failed(d, BOB, "5.7.1")
        self.assertEqual(g.get("diagnostic-code"), "smtp; 553 5.7.1 Sender address rejected")
        self.assertEqual(self.peer.messages(), [])

    def test_mail_from_451_retried(self):
        self.peer.on_rcpt = None
        self.peer.on_mail = lambda addr, params, n: "451 4.3.0 try later" if n == 1 else None
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-mail451"))
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-mail451"), [], self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [])

    def test_end_of_data_554_fails_every_recipient(self):
        self.peer.on_rcpt = None
        self.peer.on_data = lambda t: "554 5.7.1 Message rejected as spam"
        o.submit(self.srv, ALICE, [BOB, CAROL], o.message("dsn-eod"))
        d = self.one_dsn("failed")
        self.assert_report(d, "dsn-eod")
        for r in (BOB, CAROL):
            g = self.assert_failed(d, r, "5.7.1")
            self.assertEqual(g.get("diagnostic-code"), "smtp; 554 5.7.1 Message rejected as spam")
        self.assertEqual(len(d.recipients), 2)

    def test_notify_never(self):
        qid = o.submit(self.srv, ALICE, [CAROL], o.message("dsn-never", to=CAROL),
                       rcpt_params={CAROL: "NOTIFY=NEVER"})
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(CAROL, "bounced", qid), 10),
                             self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-never"), [], self.diag())
        self.assertEqual(o.all_mail(self.srv), [], "NOTIFY=NEVER: no notice at all")

    def test_null_sender_no_bounce_of_a_bounce(self):
        """RFC 5321 §6.1 / RFC 3461 §6.2: a failed message from <> is logged, never answered."""
        qid = o.submit(self.srv, "", [CAROL], o.message("dsn-null", to=CAROL))
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(CAROL, "bounced", qid), 10),
                             self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-null"), [], self.diag())
        self.assertEqual(o.all_mail(self.srv), [], "a bounce of a bounce")
        self.assertIsNone(self.srv.wait_log(rf"{qid}: sender non-delivery notification", 0))


class RemoteSender(unittest.TestCase):
    """The bounce of a remote sender's message leaves by SMTP with MAIL FROM:<> (RFC 5321
    §4.5.5, RFC 3461 §6.2) to the sender's domain."""

    def test_bounce_goes_out_with_a_null_sender(self):
        dest = SmtpPeer(host="127.0.0.2", rcpt=refuse_carol)
        home = SmtpPeer(host="127.0.0.3")
        for p in (dest, home):
            self.addCleanup(p.stop)
        srv = o.start({o.REMOTE: o.route(dest), "client.test": o.route(home)})
        o.guard(self, srv)
        o.submit(srv, "sender@client.test", [CAROL], o.message("dsn-remote", to=CAROL))
        [m] = home.wait_for(1, 15) or [None]
        self.assertIsNotNone(m, o.diag(srv, dest) + o.diag(srv, home))
        self.assertEqual(m.mail_from, "")
        self.assertEqual(m.rcpt_addrs(), ["sender@client.test"])
        raw = m.data.replace(b"\r\n", b"\n")
        d = o.Dsn(b"Return-Path: <>\n" + raw)
        self.assertEqual(d.content_type, "multipart/report", raw[:2000])
        self.assertEqual(d.recipient(CAROL).get("action"), "failed")
        self.assertEqual(dest.messages(), [])


class NotifySuccess(Base):
    def test_success_to_a_peer_without_dsn_is_relayed(self):
        """RFC 3461 §5.2.3: the next hop does not speak DSN, so Taube reports "relayed"."""
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-relayed"),
                 rcpt_params={BOB: "NOTIFY=SUCCESS ORCPT=rfc822;bob@remote.test"})
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.rcpt_params(BOB), {}, "DSN parameters to a peer without DSN")
        d = self.one_dsn("relayed")
        self.assert_report(d, "dsn-relayed")
        r = d.recipient(BOB)
        self.assertTrue(r.get("status", "").startswith("2."), r)
        self.assertEqual(addr_field(r, "original-recipient"), "rfc822; bob@remote.test", r)


class NotifyPassedOn(Base):
    peer_kw = {"extensions": ["PIPELINING", "8BITMIME", "DSN", "ENHANCEDSTATUSCODES"]}

    def test_dsn_parameters_passed_on(self):
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-passon"), mail_params="RET=HDRS ENVID=e1+2B",
                 rcpt_params={BOB: "NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bb@remote.test"})
        [m] = self.peer.wait_for(1, 10) or [None]
        self.assertIsNotNone(m, self.diag())
        self.assertEqual(m.mail_params.get("RET"), "HDRS", m.mail_params)
        self.assertEqual(m.mail_params.get("ENVID"), "e1+2B", m.mail_params)
        p = m.rcpt_params(BOB)
        self.assertEqual(set(p.get("NOTIFY", "").split(",")), {"SUCCESS", "FAILURE"}, p)
        self.assertEqual(p.get("ORCPT", "").lower(), "rfc822;b+2bb@remote.test", p)
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-passon"), [], self.diag())
        self.assertEqual(o.all_mail(self.srv), [], "the peer reports success, not Taube")


class Expiry(Base):
    """max_lifetime = 8 (the contract's 20 is accepted too, test_outbound_config; 8 keeps the
    suite short): a recipient that only ever gets 451 fails with 4.4.7 after ~8 s."""
    peer_kw = {"rcpt": lambda addr, n: "451 4.3.0 temporary failure"}
    queue = {"max_lifetime": 8}

    def test_expired_after_max_lifetime(self):
        t0 = time.monotonic()
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-expire"))
        d = self.one_dsn("failed", timeout=60)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 6, "bounced long before max_lifetime" + self.diag())
        self.assert_report(d, "dsn-expire")
        r = self.assert_failed(d, BOB, "4.4.7")
        self.assertIn("451 4.3.0 temporary failure", r.get("diagnostic-code", ""), r)
        tries = sum(1 for t in self.peer.transactions() for _ in t.rcpts)
        self.assertGreaterEqual(tries, 3, "retried only %d times in 8 s" % tries)
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-expire", 5), [], self.diag())
        self.assertEqual(self.peer.messages(), [])


class ExpiryAcrossRestart(unittest.TestCase):
    """The message's age survives a restart: kill -9 midway, and it still expires max_lifetime
    after its arrival (the Arrival-Date of the DSN is the original one)."""

    def test_lifetime_counts_from_the_arrival(self):
        peer = SmtpPeer(rcpt=lambda addr, n: "451 4.3.0 temporary failure")
        self.addCleanup(peer.stop)
        srv = o.start({o.REMOTE: o.route(peer)}, port=h.free_port(), queue={"max_lifetime": 8})
        o.guard(self, srv)
        t0, wall0 = time.monotonic(), time.time()
        o.submit(srv, ALICE, [BOB], o.message("dsn-age"))
        self.assertTrue(peer.wait(lambda p: len(p.transactions()) >= 2, 15), o.diag(srv, peer))
        srv.kill9()
        srv.restart()
        got = o.wait_dsns(srv, ALICE, 1, 45, "failed")
        elapsed = time.monotonic() - t0
        self.assertEqual(len(got), 1, o.diag(srv, peer))
        arrival = email.utils.parsedate_to_datetime(got[0].per_message["arrival-date"])
        self.assertLess(abs(arrival.timestamp() - wall0), 3, got[0].per_message)
        self.assertTrue(6 <= elapsed < 14, f"expired after {elapsed:.1f}s, max_lifetime = 8")
        self.assertEqual(got[0].recipient(BOB).get("status"), "4.4.7")


class DelayWarning(Base):
    """delay_warning = 3: one "delayed" notice, then delivery when the peer accepts."""
    queue = {"delay_warning": 3, "max_lifetime": 120}

    def test_delayed_once_then_delivered(self):
        accept = threading.Event()
        self.peer.on_rcpt = lambda addr, n: None if accept.is_set() else "451 4.2.0 mailbox busy"
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-delay"))
        d = self.one_dsn("delayed", timeout=20)
        self.assert_report(d, "dsn-delay")
        r = d.recipient(BOB)
        self.assertEqual(r.get("action"), "delayed", r)
        self.assertTrue(r.get("status", "").startswith("4."), r)
        self.assertIn("451 4.2.0 mailbox busy", r.get("diagnostic-code", ""), r)
        # Two more failed attempts after the warning, and no second warning.
        seen = len(self.peer.transactions())
        self.assertTrue(self.peer.wait(lambda p: len(p.transactions()) >= seen + 2, 15),
                        self.diag())
        accept.set()
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-delay"), [], self.diag())
        notices = o.dsns(self.srv, ALICE)
        self.assertEqual([n.actions() for n in notices], [["delayed"]], notices)


    def test_notify_failure_only_gets_no_delay_warning(self):
        """RFC 3461 §4.1: NOTIFY=FAILURE without DELAY: no "delayed" notice."""
        accept = threading.Event()
        self.peer.on_rcpt = lambda addr, n: None if accept.is_set() else "451 4.2.0 mailbox busy"
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-nodelay"),
                 rcpt_params={BOB: "NOTIFY=FAILURE"})
        # Past delay_warning (3 s) with attempts still failing: at least 5 tries (1+2+2+2 s).
        self.assertTrue(self.peer.wait(lambda p: len(p.transactions()) >= 5, 20), self.diag())
        accept.set()
        self.assertEqual(len(self.peer.wait_for(1, 15)), 1, self.diag())
        self.assertEqual(o.wait_queue_clear(self.srv, b"dsn-nodelay"), [], self.diag())
        self.assertEqual(o.dsns(self.srv, ALICE), [])


class Refused(Base):
    """What the peer cannot take is bounced without sending the data."""
    peer_kw = {"extensions": ["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SIZE 2000"]}

    def assert_no_data(self):
        cmds = [c.split()[0].upper() for s in self.peer.sessions() for c in s.commands if c]
        self.assertNotIn("DATA", cmds, self.diag())
        self.assertNotIn("BDAT", cmds, self.diag())
        self.assertEqual(self.peer.messages(), [])

    def test_smtputf8_to_a_peer_without_smtputf8(self):
        """RFC 6531 §3.4: no SMTPUTF8 at the next hop: 5.6.7 (RFC 6532/6533)."""
        msg = o.message("dsn-utf8", subject="Gr\u00fc\u00dfe", headers=[
            "X-Marker: dsn-utf8", "Content-Type: text/plain; charset=utf-8"])
        o.submit(self.srv, ALICE, ["j\u00f6rg@remote.test"], msg,
                 mail_params="SMTPUTF8 BODY=8BITMIME")
        d = self.one_dsn("failed")
        self.assertEqual(d.content_type, "multipart/report", d)
        self.assertIn(d.report_type, ("delivery-status", "global-delivery-status"), d)
        self.assertEqual(d.return_path, "")
        [r] = d.recipients
        self.assertEqual(r.get("action"), "failed", r)
        self.assertEqual(r.get("status"), "5.6.7", r)
        self.assert_no_data()

    def test_larger_than_the_peers_size(self):
        """RFC 1870 §6: a message over the peer's SIZE is not sent: 5.3.4."""
        o.submit(self.srv, ALICE, [BOB], o.message("dsn-size", body=b"y" * 70 + b"\r\n") +
                 (b"z" * 70 + b"\r\n") * 100)
        d = self.one_dsn("failed")
        self.assert_report(d, "dsn-size")
        self.assert_failed(d, BOB, "5.3.4")
        self.assert_no_data()


if __name__ == "__main__":
    h.main()

"""SRS (Sender Rewriting Scheme) for forwarded mail (docs/outbound.md "SRS"). An alias that
forwards to another domain sends the copy on with MAIL FROM:<SRS0=HHHH=TT=orig.domain=local@
srs.domain>, so the next hop's SPF check sees Taube's own domain; a bounce to that address comes
back to Taube, which checks its hash and age and relays it to the original sender; a forged or
expired one is refused at RCPT (550 5.1.1), so Taube never bounces forged bounces (backscatter).

The SRS addresses are checked against an independent computation with Python's hmac module
(the libsrs2/postsrsd format: HMAC-SHA1 over the lowercased stamp, domain and local part, the
first 4 characters of its base64url encoding; the stamp is the day mod 1024 in base32)."""

import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.outbound import BOB  # noqa: E402
from taubetest.smtp import RawClient  # noqa: E402
from taubetest.smtp_peer import SmtpPeer  # noqa: E402

SECRET = "integration-s3cret"
ORIGIN = "someone@outside.test"   # an outside sender; outside.test is routed to a second peer
SRS_DOMAIN = "example.org"        # set in [srs] domain (the first local domain is "localhost")
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def stamp(day: int) -> str:
    return B32[(day % 1024) >> 5] + B32[day % 32]


def srs_hash(secret: str, *parts: str) -> str:
    mac = hmac.new(secret.encode(), "".join(parts).lower().encode(), hashlib.sha1).digest()
    return base64.urlsafe_b64encode(mac)[:4].decode()


def srs0(addr: str, day: int, domain: str = SRS_DOMAIN, secret: str = SECRET) -> str:
    local, _, host = addr.rpartition("@")
    t = stamp(day)
    return f"SRS0={srs_hash(secret, t, host, local)}={t}={host}={local}@{domain}"


def today() -> int:
    return int(time.time()) // 86400


class SrsBase(unittest.TestCase):
    enabled = True

    def setUp(self):
        fd, self.secret_file = tempfile.mkstemp(prefix="taube-srs-")
        os.write(fd, f"{SECRET}\n".encode())
        os.close(fd)
        self.addCleanup(os.remove, self.secret_file)
        self.fwd_peer = SmtpPeer(host="127.0.0.2", port=0)       # remote.test: the alias target
        self.addCleanup(self.fwd_peer.stop)
        self.origin_peer = SmtpPeer(host="127.0.0.3", port=0)    # outside.test: the sender's
        self.addCleanup(self.origin_peer.stop)
        srs = {"enabled": self.enabled, "secret_file": self.secret_file}
        if self.enabled:
            srs["domain"] = SRS_DOMAIN
        # No relay networks: only aliases and verified SRS addresses may send mail off-site.
        self.srv = o.guard(self, o.start(
            {o.REMOTE: o.route(self.fwd_peer), "outside.test": o.route(self.origin_peer)},
            relay={"networks": []},
            extra={"aliases": {"fwd@example.org": [BOB]}, "srs": srs}))

    def forward_one(self, marker: str, sender: str = ORIGIN):
        with RawClient(h.HOST, self.srv.port, 15) as c:
            c.greet()
            c.expect("250", f"MAIL FROM:<{sender}>")
            c.expect("251", "RCPT TO:<fwd@example.org>")
            c.expect("354", "DATA")
            c.send(o.message(marker, to="fwd@example.org") + b".\r\n")
            c.expect("250")
            c.cmd("QUIT")
        got = self.fwd_peer.wait_for(1, 10)
        self.assertEqual(len(got), 1, o.diag(self.srv, self.fwd_peer))
        return got[0]

    def rcpt_reply(self, rcpt: str, sender: str = ""):
        with RawClient(h.HOST, self.srv.port, 15) as c:
            c.greet()
            c.expect("250", f"MAIL FROM:<{sender}>")
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            c.cmd("QUIT")
        return r


class Srs(SrsBase):
    def test_forwarded_mail_has_an_srs_sender(self):
        got = self.forward_one("srs-1")
        self.assertEqual(got.rcpt_addrs(), [BOB])
        m = re.fullmatch(r"SRS0=(.{4})=(..)=outside\.test=someone@example\.org", got.mail_from)
        self.assertIsNotNone(m, got.mail_from)
        # Signed with our secret on today's stamp (or yesterday's, across midnight).
        self.assertIn(m.group(2), (stamp(today()), stamp(today() - 1)))
        self.assertEqual(m.group(1), srs_hash(SECRET, m.group(2), "outside.test", "someone"))
        self.assertIn(b"marker srs-1", got.data)

    def test_a_local_sender_is_not_rewritten(self):
        got = self.forward_one("srs-2", sender="alice@example.org")
        self.assertEqual(got.mail_from, "alice@example.org")

    def test_a_bounce_to_the_srs_address_goes_back_to_the_sender(self):
        addr = srs0(ORIGIN, today())
        qid = o.submit(self.srv, "", [addr], o.message("srs-3", to=addr))
        got = self.origin_peer.wait_for(1, 10)
        self.assertEqual(len(got), 1, o.diag(self.srv, self.origin_peer))
        self.assertEqual(got[0].rcpt_addrs(), [ORIGIN])
        self.assertEqual(got[0].mail_from, "")  # still a bounce: MAIL FROM:<>
        self.assertIn(b"marker srs-3", got[0].data)
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(ORIGIN, "sent", qid), 5),
                             o.diag(self.srv, self.origin_peer))
        # Any case of the SRS address is the same address (libsrs2 compares case-insensitively).
        o.submit(self.srv, "", [addr.lower()], o.message("srs-3b", to=addr))
        got = self.origin_peer.wait_for(2, 10)
        self.assertEqual(len(got), 2, o.diag(self.srv, self.origin_peer))
        self.assertEqual(got[1].rcpt_addrs(), [ORIGIN.lower()])

    def test_forged_and_expired_srs_addresses_are_refused_at_rcpt(self):
        good = srs0(ORIGIN, today())
        h4 = good[5:9]
        forged = good.replace(h4, "AAAA" if h4.upper() != "AAAA" else "BBBB", 1)
        r = self.rcpt_reply(forged)
        self.assertRegex(r.text, r"^550 5\.1\.1 ")
        self.assertIn("invalid SRS address", r.text)
        # A valid hash for another target: the hash covers the address.
        other = srs0("victim@outside.test", today()).replace("victim", "victin")
        self.assertEqual(self.rcpt_reply(other).code, 550)
        # Genuine but 30 days old (max_age_days = 21).
        r = self.rcpt_reply(srs0(ORIGIN, today() - 30))
        self.assertRegex(r.text, r"^550 5\.1\.1 ")
        self.assertIn("expired", r.text)
        # Signed with another secret.
        self.assertEqual(self.rcpt_reply(srs0(ORIGIN, today(), secret="other")).code, 550)
        # And the reversal opens no relay: a plain outside address is still refused.
        self.assertEqual(self.rcpt_reply(ORIGIN).code, 554)
        time.sleep(0.3)
        self.assertEqual(self.origin_peer.messages(), [])

    def test_a_rejected_forward_bounces_back_through_srs(self):
        # The next hop refuses the forwarded copy: Taube's own DSN goes to the SRS sender, which
        # its recipient policy reverses to the original sender at the other peer.
        self.fwd_peer.on_rcpt = lambda addr, n: "550 5.1.1 no such user here"
        with RawClient(h.HOST, self.srv.port, 15) as c:
            c.greet()
            c.expect("250", f"MAIL FROM:<{ORIGIN}>")
            c.expect("251", "RCPT TO:<fwd@example.org>")
            c.expect("354", "DATA")
            c.send(o.message("srs-4", to="fwd@example.org") + b".\r\n")
            c.expect("250")
            c.cmd("QUIT")
        got = self.origin_peer.wait_for(1, 15)
        self.assertEqual(len(got), 1, o.diag(self.srv, self.origin_peer))
        self.assertEqual(got[0].rcpt_addrs(), [ORIGIN])
        self.assertEqual(got[0].mail_from, "")
        self.assertIn(b"multipart/report", got[0].data)
        self.assertIn(b"Subject: srs-4", got[0].data)  # the returned header
        self.assertIn(b"Final-Recipient: rfc822; bob@remote.test", got[0].data)

    def test_check_config_mentions_srs(self):
        out = subprocess.run([h.taube_bin(), "check-config", str(self.srv.config_path)],
                             capture_output=True, timeout=10, stdin=subprocess.DEVNULL, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("SRS on: forwarded mail is sent as SRS0=...@example.org, 1 secret", out.stdout)


class SrsDisabled(SrsBase):
    enabled = False

    def test_sender_unchanged_and_srs_addresses_are_ordinary(self):
        got = self.forward_one("srs-off-1")
        self.assertEqual(got.mail_from, ORIGIN)
        # Not reversed: an SRS-looking local part is just a local part (here: any local part of
        # example.org is a user), never relayed to the sender's domain.
        addr = srs0(ORIGIN, today())
        o.submit(self.srv, "", [addr], o.message("srs-off-2", to=addr))
        local = [p for p in o.all_mail(self.srv) if b"marker srs-off-2" in p.read_bytes()]
        self.assertEqual(len(local), 1, o.diag(self.srv))
        self.assertEqual(self.origin_peer.messages(), [])


if __name__ == "__main__":
    h.main()

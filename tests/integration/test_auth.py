"""SMTP AUTH (RFC 4954; PLAIN RFC 4616; LOGIN), submission listeners (RFC 6409), sender
restriction and the per-IP failure lockout, against the real binary with swaks, smtplib and curl.

alice's hash is yescrypt (written by `taube passwd`, with a SCRAM-SHA-256 secret), bob's SHA-512
crypt (`openssl passwd -6`, no SCRAM secret).
"""

import base64
import hashlib
import hmac
import os
import smtplib
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.security import ALICE, ALICE_PW, BOB, BOB_PW, b64  # noqa: E402

MX, SUBMISSIONS, SUBMISSION, PLAINTEXT, PLAIN_STARTTLS_SUB, NOAUTH = range(6)
DELAY = 0.2
srv: s.SecTaube


def setUpModule():
    global srv
    srv = s.SecTaube([
        s.listener("starttls", auth=True),                                   # 25
        s.listener("implicit", submission=True),                             # 465
        s.listener("starttls", submission=True),                             # 587
        s.listener("none", plaintext_auth=True),                             # AUTH w/o TLS
        s.listener("starttls", plaintext_auth=True, submission=True),
        s.listener("starttls", auth=False),
    ], auth={"failure_delay": DELAY, "max_failures": 1000})


def tearDownModule():
    try:
        srv.stop()
    finally:
        srv.cleanup()


class Base(unittest.TestCase):
    def setUp(self):
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        srv.assert_alive()

    def keep(self, c):
        self.clients.append(c)
        return c

    def tls(self, index=MX, ehlo=True) -> s.TlsClient:
        return self.keep(s.tls_session(srv, index, ehlo))

    def implicit(self, index=SUBMISSIONS) -> s.TlsClient:
        return self.keep(s.implicit_session(srv, index))

    def plain(self, index=PLAINTEXT) -> s.TlsClient:
        c = self.keep(srv.client(index))
        c.greet()
        return c

    def timed(self, fn, *a):
        t = time.monotonic()
        r = fn(*a)
        return r, time.monotonic() - t

    def stored_with(self, rcpt: str, marker: bytes) -> bytes:
        msgs = s.find_marker(srv.mail_root, marker)
        self.assertEqual(len(msgs), 1, f"message with {marker!r} for {rcpt}: {msgs}")
        self.assertTrue(str(msgs[0]).startswith(str(srv.maildir(rcpt))), msgs[0])
        return msgs[0].read_bytes()


class Advertisement(Base):
    def test_no_auth_before_tls(self):
        c = self.keep(srv.client(MX))
        kw = s.ehlo_keywords(c.greet())
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)
        c.expect("538 5.7.11", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("538 5.7.11", "AUTH LOGIN")
        # the refused AUTH did not leave the session in a SASL exchange
        c.expect("250", "NOOP")

    def test_auth_after_tls(self):
        c = self.tls(ehlo=False)
        kw = s.ehlo_keywords(c.ehlo())
        self.assertIn("AUTH PLAIN LOGIN SCRAM-SHA-256", kw)

    def test_auth_needs_ehlo_after_tls(self):
        c = self.tls(ehlo=False)
        c.expect("503 5.5.1", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_plaintext_listener_offers_auth(self):
        c = self.keep(srv.client(PLAINTEXT))
        kw = s.ehlo_keywords(c.greet())
        self.assertIn("AUTH PLAIN LOGIN SCRAM-SHA-256", kw)
        self.assertNotIn("STARTTLS", kw)
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_auth_disabled_listener(self):
        c = self.tls(NOAUTH)
        c.expect("50", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        kw = s.ehlo_keywords(c.ehlo())
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)


class Mechanisms(Base):
    def test_plain_initial_response_yescrypt(self):
        c = self.tls()
        self.assertEqual(c.auth_plain(ALICE, ALICE_PW).last, "235 2.7.0 Authentication successful")

    def test_plain_sha512crypt(self):
        c = self.tls()
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(BOB, BOB_PW)}")

    def test_plain_with_authzid_equal_to_authcid(self):
        c = self.tls()
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW, authzid=ALICE)}")

    def test_plain_challenge(self):
        c = self.tls()
        r = c.cmd("AUTH PLAIN")
        self.assertEqual(r.lines, [b"334 "])
        c.expect("235 2.7.0", s.plain(ALICE, ALICE_PW))

    def test_mechanism_case_insensitive(self):
        c = self.tls()
        c.expect("235 2.7.0", f"auth plain {s.plain(ALICE, ALICE_PW)}")

    def test_login(self):
        c = self.tls()
        self.assertEqual(c.auth_login(ALICE, ALICE_PW).last, "235 2.7.0 Authentication successful")

    def test_login_bob(self):
        c = self.tls()
        self.assertTrue(c.auth_login(BOB, BOB_PW).last.startswith("235 2.7.0"))

    def test_login_initial_response(self):
        # RFC 4954 §4 initial response with LOGIN carries the user name.
        c = self.tls()
        c.expect("334 UGFzc3dvcmQ6", f"AUTH LOGIN {b64(ALICE)}")
        c.expect("235 2.7.0", b64(ALICE_PW))

    def test_unknown_mechanism(self):
        c = self.tls()
        c.expect("504 5.5.4", "AUTH CRAM-MD5")
        c.expect("504 5.5.4", "AUTH XOAUTH2 " + b64("x"))
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_twice(self):
        c = self.tls()
        c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("503 5.5.1", f"AUTH PLAIN {s.plain(BOB, BOB_PW)}")
        c.expect("503 5.5.1", "AUTH LOGIN")

    def test_in_transaction(self):
        c = self.tls()
        c.expect("250", "MAIL FROM:<x@localhost>")
        c.expect("503 5.5.1", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("250", "RSET")
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_tls_session_reset_forgets_plaintext_auth(self):
        # RFC 3207 §4.2: knowledge from before TLS (including AUTH) is discarded.
        c = self.plain(PLAIN_STARTTLS_SUB)
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("250", f"MAIL FROM:<{ALICE}>")
        c.expect("250", "RSET")
        c.starttls()
        c.ehlo()
        c.expect("530 5.7.0", f"MAIL FROM:<{ALICE}>")
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("250", f"MAIL FROM:<{ALICE}>")


class BadInput(Base):
    def test_bad_base64_initial(self):
        c = self.tls()
        c.expect("501 5.5.2", "AUTH PLAIN not*base64!")
        c.expect("501 5.5.2", "AUTH PLAIN YWxpY2U")  # bad padding / length
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_bad_base64_continuation(self):
        c = self.tls()
        c.expect("334", "AUTH PLAIN")
        c.expect("501 5.5.2", "%%%%")
        c.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        c.expect("501 5.5.2", "@@@")
        c.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        c.expect("334 UGFzc3dvcmQ6", b64(ALICE))
        c.expect("501 5.5.2", "!!")
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")

    def test_cancel_login(self):
        c = self.tls()
        c.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        c.expect("501 5.7.0", "*")
        c.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        c.expect("334 UGFzc3dvcmQ6", b64(ALICE))
        c.expect("501 5.7.0", "*")
        # not authenticated by the cancelled exchange, and AUTH works afterwards
        self.assertTrue(c.auth_login(ALICE, ALICE_PW).last.startswith("235"))

    def test_cancel_plain(self):
        c = self.tls()
        c.expect("334", "AUTH PLAIN")
        c.expect("501 5.7.0", "*")

    def test_auth_without_mechanism(self):
        c = self.tls()
        c.expect("501", "AUTH")


class WrongPassword(Base):
    def check_slow_535(self, r: h.Reply, took: float):
        self.assertEqual(r.last[:9], "535 5.7.8", r.text)
        self.assertGreaterEqual(took, DELAY - 0.01, f"535 after {took:.3f}s, failure_delay "
                                                    f"is {DELAY}s")

    def test_plain_wrong_password(self):
        c = self.tls()
        self.check_slow_535(*self.timed(c.auth_plain, ALICE, "wrong"))
        c.expect("250", f"MAIL FROM:<{ALICE}>")  # port 25: MAIL allowed unauthenticated
        c.expect("250", "RSET")
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")  # retry allowed

    def test_login_wrong_password(self):
        c = self.tls()
        self.check_slow_535(*self.timed(c.auth_login, BOB, ALICE_PW))

    def test_unknown_user(self):
        c = self.tls()
        self.check_slow_535(*self.timed(c.auth_plain, "mallory@example.org", "x"))

    def test_password_case_and_prefix(self):
        c = self.tls()
        for pw in (ALICE_PW.upper(), ALICE_PW[:-1], ALICE_PW + "x", "", ALICE_PW + "\n"):
            with self.subTest(pw=pw):
                r = c.auth_plain(ALICE, pw)
                self.assertTrue(r.last.startswith("535"), r.text)

    def test_hash_as_password_or_other_users_password(self):
        c = self.tls()
        hash_ = [l for l in srv.users_file.read_text().splitlines()
                 if l.startswith(ALICE + ":")][0].split(":")[1]
        for user, pw in ((ALICE, hash_), (BOB, ALICE_PW), (ALICE + "\0", ALICE_PW)):
            with self.subTest(user=user, pw=pw):
                self.assertTrue(c.auth_plain(user, pw).last.startswith("535"))

    def test_authzid_other_user_refused(self):
        # RFC 4616 §2: the server verifies authcid/password AND "that the authentication
        # credentials permit the client to act as the ... authorization identity (authzid). If
        # both steps succeed, the user is logged in." alice may not act as bob: 535 5.7.8.
        c = self.tls()
        r = c.cmd(f"AUTH PLAIN {s.plain(ALICE, ALICE_PW, authzid=BOB)}")
        self.assertEqual(r.code, 535, f"AUTH PLAIN authzid={BOB} authcid={ALICE} (alice's "
                                      f"password): expected 535 5.7.8, got {r.text!r}")

    def test_authzid_never_grants_other_identity(self):
        # Whatever the server does with the authzid, it must never act as bob.
        c = self.tls(SUBMISSION)
        r = c.cmd(f"AUTH PLAIN {s.plain(ALICE, ALICE_PW, authzid=BOB)}")
        if r.code != 235:
            return
        c.expect("553 5.7.1", f"MAIL FROM:<{BOB}>")
        c.send_message(ALICE, ["authzid@localhost"],
                       s.message(ALICE, "authzid@localhost", "authzid-identity"))
        rec = s.parse_received(self.stored_with("authzid@localhost", b"authzid-identity"))
        self.assertEqual(rec["auth"], ALICE, rec)

    def test_failed_auth_grants_nothing(self):
        c = self.tls(SUBMISSION)
        c.auth_plain(ALICE, "wrong")
        c.expect("530 5.7.0", f"MAIL FROM:<{ALICE}>")


class ScramClient:
    """An RFC 5802 / RFC 7677 SCRAM-SHA-256 client, written from the RFC independently of
    Taube's code, used as smtplib's authobject (called with None, then with each challenge)."""

    def __init__(self, user: str, password: str, tamper_nonce=False, authzid=""):
        self.user, self.password = user, password
        self.tamper_nonce, self.authzid = tamper_nonce, authzid
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        self.step = 0
        self.server_first = ""
        self.server_ok = None  # the server's signature checked out

    def __call__(self, challenge=None):
        self.step += 1
        if self.step == 1:
            name = self.user.replace("=", "=3D").replace(",", "=2C")
            self.gs2 = f"n,{'a=' + self.authzid if self.authzid else ''},"
            self.first_bare = f"n={name},r={self.cnonce}"
            return self.gs2 + self.first_bare
        if self.step == 2:
            self.server_first = challenge.decode()
            attrs = dict(a.split("=", 1) for a in self.server_first.split(","))
            nonce, salt, iters = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
            assert nonce.startswith(self.cnonce) and len(nonce) > len(self.cnonce)
            if self.tamper_nonce:
                nonce += "x"
            salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iters)
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            cbind = base64.b64encode(self.gs2.encode()).decode()
            without_proof = f"c={cbind},r={nonce}"
            self.auth_message = f"{self.first_bare},{self.server_first},{without_proof}"
            sig = hmac.new(stored_key, self.auth_message.encode(), hashlib.sha256).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, sig))
            self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
            return f"{without_proof},p={base64.b64encode(proof).decode()}"
        want = hmac.new(self.server_key, self.auth_message.encode(), hashlib.sha256).digest()
        self.server_ok = challenge.decode() == "v=" + base64.b64encode(want).decode()
        return ""


class Scram(Base):
    """SCRAM-SHA-256 (RFC 7677) with smtplib and the RFC-written client above."""

    def smtp(self, port=SUBMISSION) -> smtplib.SMTP:
        c = smtplib.SMTP(h.HOST, srv.ports[port], local_hostname="scram.test", timeout=10)
        c.starttls(context=s.client_ctx())
        c.ehlo()
        return c

    def test_success_and_the_server_proves_itself(self):
        with self.smtp() as c:
            self.assertIn("SCRAM-SHA-256", c.esmtp_features["auth"].upper())
            client = ScramClient(ALICE, ALICE_PW)
            code, _ = c.auth("SCRAM-SHA-256", client)
            self.assertEqual(code, 235)
            self.assertTrue(client.server_ok, "the server's signature (v=) must verify")
            c.sendmail(ALICE, ["scram@localhost"], s.message(ALICE, "scram@localhost", "scram-1"))
        rec = s.parse_received(self.stored_with("scram@localhost", b"scram-1"))
        self.assertEqual(rec["with"], "ESMTPSA", rec)
        self.assertEqual(rec["auth"], ALICE)

    def test_without_initial_response(self):
        with self.smtp() as c:
            client = ScramClient(ALICE, ALICE_PW)
            code, _ = c.auth("SCRAM-SHA-256", client, initial_response_ok=False)
            self.assertEqual(code, 235)
            self.assertTrue(client.server_ok)

    def failed(self, client: ScramClient, delayed=True) -> ScramClient:
        with self.smtp() as c:
            t = time.monotonic()
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                c.auth("SCRAM-SHA-256", client)
            self.assertEqual(cm.exception.smtp_code, 535, cm.exception)
            self.assertIn(b"5.7.8", cm.exception.smtp_error)
            if delayed:  # a proof that was checked and failed is answered late
                self.assertGreaterEqual(time.monotonic() - t, DELAY - 0.01, "not delayed")
            self.assertIsNone(client.server_ok, "no server signature after a failure")
            c.ehlo()
            self.assertEqual(c.mail(ALICE)[0], 530, "submission: still unauthenticated")
        return client

    def test_wrong_password(self):
        self.failed(ScramClient(ALICE, ALICE_PW + "x"))

    def test_user_without_scram_secret(self):
        # bob's entry has only a crypt(3) hash: SCRAM cannot work for him, PLAIN still does.
        self.failed(ScramClient(BOB, BOB_PW))
        with self.smtp() as c:
            self.assertEqual(c.login(BOB, BOB_PW)[0], 235)

    def test_unknown_user_looks_like_a_known_one(self):
        # RFC 5802 §5.1: same salt on every attempt and a normal iteration count, so the
        # exchange does not tell an attacker which user names exist.
        a = self.failed(ScramClient("nosuchuser", "x"))
        b = self.failed(ScramClient("nosuchuser", "y"))
        salt = lambda cl: dict(x.split("=", 1) for x in cl.server_first.split(","))["s"]
        self.assertEqual(salt(a), salt(b))
        self.assertIn(",i=4096", a.server_first)

    def test_tampered_nonce_and_other_identity(self):
        self.failed(ScramClient(ALICE, ALICE_PW, tamper_nonce=True))
        # refused by the protocol core before any secret is looked at, like PLAIN's authzid
        self.failed(ScramClient(ALICE, ALICE_PW, authzid=BOB), delayed=False)

    def test_raw_exchange_errors(self):
        c = self.tls(SUBMISSION)
        first = base64.b64encode(f"n,,n={ALICE},r=abc".encode()).decode()
        r = c.cmd(f"AUTH SCRAM-SHA-256 {first}")
        self.assertTrue(r.last.startswith("334 "), r.text)
        c.expect("501 5.7.0", "*")  # cancelled
        c.expect("501 5.5.2", "AUTH SCRAM-SHA-256 %%%")
        cb = base64.b64encode(f"p=tls-unique,,n={ALICE},r=abc".encode()).decode()
        c.expect("535 5.7.8", f"AUTH SCRAM-SHA-256 {cb}")  # channel binding is not offered


class Throttling(Base):
    def test_pipelined_failures_each_delayed(self):
        # Pipelining AUTH attempts must not bypass the failure delay.
        c = self.tls()
        t = time.monotonic()
        c.send("".join(f"AUTH PLAIN {s.plain(ALICE, f'guess{i}')}\r\n" for i in range(3)))
        for _ in range(3):
            self.assertEqual(c.reply().code, 535)
        self.assertGreaterEqual(time.monotonic() - t, 3 * DELAY - 0.02)

    def test_delay_does_not_block_other_clients(self):
        slow = self.tls()
        other = self.tls()
        slow.send(f"AUTH PLAIN {s.plain(ALICE, 'wrong')}\r\n")
        time.sleep(0.02)
        (r, took) = self.timed(other.cmd, "NOOP")
        self.assertEqual(r.code, 250)
        self.assertLess(took, DELAY / 2, "a delayed 535 stalls other sessions")
        self.assertEqual(slow.reply().code, 535)

    def test_long_sasl_response_line(self):
        # RFC 4954 §4: a SASL response line may be up to 12288 octets (not the 512 command limit).
        c = self.tls()
        c.expect("334", "AUTH PLAIN")
        resp = s.plain(ALICE, "x" * 9000)
        self.assertLess(len(resp) + 2, 12288)
        self.assertGreater(len(resp), 1000)
        c.expect("535 5.7.8", resp)
        c.expect("250", "NOOP")


class Submission(Base):
    def test_mail_before_auth_587(self):
        c = self.tls(SUBMISSION)
        c.expect("530 5.7.0 Authentication required", f"MAIL FROM:<{ALICE}>")
        c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        c.expect("250", f"MAIL FROM:<{ALICE}>")

    def test_mail_before_auth_465(self):
        c = self.implicit()
        c.expect("530 5.7.0", f"MAIL FROM:<{ALICE}>")
        c.expect("530 5.7.0", "MAIL FROM:<>")
        self.assertTrue(c.auth_login(ALICE, ALICE_PW).last.startswith("235"))
        c.expect("250", f"MAIL FROM:<{ALICE}>")

    def test_restrict_sender(self):
        c = self.tls(SUBMISSION)
        c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        for bad in (BOB, "alice@example.com", "alice@example.org.evil.test", "xalice@example.org",
                    "alice@localhost"):
            with self.subTest(sender=bad):
                c.expect("553 5.7.1", f"MAIL FROM:<{bad}>")
        c.expect("250", "MAIL FROM:<>")
        c.expect("250", "RSET")
        c.expect("250", f"MAIL FROM:<{ALICE}>")
        c.expect("250", "RSET")
        c.expect("250", "MAIL FROM:<alice@EXAMPLE.ORG>")  # domains are case-insensitive


class DeliveredTrace(Base):
    def check(self, raw: bytes, user: str, tls13=True):
        rec = s.parse_received(raw)
        self.assertEqual(rec["with"], "ESMTPSA", rec)
        self.assertEqual(rec["auth"], user, rec)
        self.assertRegex(rec["tls"] or "", r"^TLSv1\.3 with cipher [A-Z0-9_]+$" if tls13
                         else s.TLS_INFO_RX)
        self.assertIn(f"(Authenticated sender: {user})".encode(), raw)
        self.assertRegex(raw, rb"with ESMTPSA \(TLSv1\.3 with cipher ")
        return rec

    def test_raw_tls_auth(self):
        c = self.tls(SUBMISSION)
        c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        r = c.send_message(ALICE, ["rawauth@localhost"],
                           s.message(ALICE, "rawauth@localhost", "raw-tls-auth"))
        qid = h.queued_id(r)
        rec = self.check(self.stored_with("rawauth@localhost", b"raw-tls-auth"), ALICE)
        self.assertEqual(rec["id"], qid)

    def test_plaintext_auth_is_esmtpa(self):
        c = self.plain(PLAINTEXT)
        c.expect("235", f"AUTH PLAIN {s.plain(BOB, BOB_PW)}")
        c.send_message(BOB, ["plainauth@localhost"],
                       s.message(BOB, "plainauth@localhost", "plaintext-auth"))
        rec = s.parse_received(self.stored_with("plainauth@localhost", b"plaintext-auth"))
        self.assertEqual(rec["with"], "ESMTPA", rec)
        self.assertEqual(rec["auth"], BOB)
        self.assertIsNone(rec["tls"])

    def test_smtplib_starttls_login(self):
        with smtplib.SMTP(h.HOST, srv.ports[SUBMISSION], local_hostname="smtplib.test",
                          timeout=10) as c:
            c.starttls(context=s.client_ctx())
            c.login(ALICE, ALICE_PW)  # smtplib prefers PLAIN
            c.sendmail(ALICE, ["pylogin@localhost"],
                       s.message(ALICE, "pylogin@localhost", "smtplib-login"))
        self.check(self.stored_with("pylogin@localhost", b"smtplib-login"), ALICE)

    def test_smtplib_login_mechanism(self):
        with smtplib.SMTP(h.HOST, srv.ports[SUBMISSION], local_hostname="smtplib.test",
                          timeout=10) as c:
            c.starttls(context=s.client_ctx())
            c.ehlo()
            c.user, c.password = BOB, BOB_PW
            code, _ = c.auth("LOGIN", c.auth_login)
            self.assertEqual(code, 235)
            c.sendmail(BOB, ["pylogin2@localhost"],
                       s.message(BOB, "pylogin2@localhost", "smtplib-auth-login"))
        self.check(self.stored_with("pylogin2@localhost", b"smtplib-auth-login"), BOB)

    def test_smtplib_wrong_password(self):
        with smtplib.SMTP(h.HOST, srv.ports[SUBMISSION], timeout=10) as c:
            c.starttls(context=s.client_ctx())
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                c.login(ALICE, "nope")
            self.assertEqual(cm.exception.smtp_code, 535)

    def test_smtp_ssl_login(self):
        with smtplib.SMTP_SSL(h.HOST, srv.ports[SUBMISSIONS], context=s.client_ctx(),
                              local_hostname="smtplib.test", timeout=10) as c:
            c.login(BOB, BOB_PW)
            c.sendmail(BOB, ["pyssl@localhost"], s.message(BOB, "pyssl@localhost", "smtp-ssl"))
        self.check(self.stored_with("pyssl@localhost", b"smtp-ssl"), BOB)

    def swaks(self, port, *args):
        return s.run(["swaks", "--server", h.HOST, "--port", str(port), "--helo", "swaks.test",
                      "--timeout", "10", *args])

    def test_swaks_tls_auth_plain(self):
        p = self.swaks(srv.ports[SUBMISSION], "--tls", "--auth", "PLAIN",
                       "--auth-user", ALICE, "--auth-password", ALICE_PW,
                       "--from", ALICE, "--to", "swplain@localhost",
                       "--header", "Subject: swaks-auth-plain")
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.assertIn("235 2.7.0", o)
        self.check(self.stored_with("swplain@localhost", b"swaks-auth-plain"), ALICE)

    def test_swaks_tls_auth_login(self):
        p = self.swaks(srv.ports[SUBMISSION], "--tls", "--auth", "LOGIN",
                       "--auth-user", BOB, "--auth-password", BOB_PW,
                       "--from", BOB, "--to", "swlogin@localhost",
                       "--header", "Subject: swaks-auth-login")
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.assertIn("334 VXNlcm5hbWU6", o)
        self.check(self.stored_with("swlogin@localhost", b"swaks-auth-login"), BOB)

    def test_swaks_tlsc_auth(self):
        p = self.swaks(srv.ports[SUBMISSIONS], "--tlsc", "--auth", "PLAIN",
                       "--auth-user", ALICE, "--auth-password", ALICE_PW,
                       "--from", ALICE, "--to", "swtlsc@localhost",
                       "--header", "Subject: swaks-tlsc-auth")
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.check(self.stored_with("swtlsc@localhost", b"swaks-tlsc-auth"), ALICE)

    def test_swaks_wrong_password(self):
        p = self.swaks(srv.ports[SUBMISSION], "--tls", "--auth", "LOGIN",
                       "--auth-user", ALICE, "--auth-password", "wrong",
                       "--from", ALICE, "--to", "swwrong@localhost")
        o = s.out(p)
        self.assertNotEqual(p.returncode, 0, o)
        self.assertIn("535 5.7.8", o)

    def test_curl_smtps_auth(self):
        f = srv.work / "curlauth.eml"
        f.write_bytes(s.message(ALICE, "curlauth@localhost", "curl-smtps-auth"))
        p = s.run(["curl", "-sS", "-v", "--max-time", "20", "-k",
                   f"smtps://{h.HOST}:{srv.ports[SUBMISSIONS]}/curl.test",
                   "--user", f"{ALICE}:{ALICE_PW}", "--mail-from", ALICE,
                   "--mail-rcpt", "curlauth@localhost", "--upload-file", str(f)])
        self.assertEqual(p.returncode, 0, s.out(p))
        self.check(self.stored_with("curlauth@localhost", b"curl-smtps-auth"), ALICE)


class Lockout(unittest.TestCase):
    """max_failures per client IP: the failure that reaches it is answered 421 4.7.0 and the
    connection closed; new connections from the IP get a 421 4.7.0 greeting while banned."""

    def server(self, **auth):
        srv = s.SecTaube([s.listener("starttls"), s.listener("implicit", submission=True)],
                         auth={"failure_delay": DELAY, "max_failures": 3, "ban_time": 600,
                               **auth})
        self.addCleanup(srv.cleanup)
        return srv

    def assert_banned(self, srv):
        c = srv.client(0)
        try:
            r = c.reply()
            self.assertTrue(r.last.startswith("421 4.7.0"), r.text)
            self.assertTrue(c.closed())
        finally:
            c.close()
        c = srv.client(1, implicit=True)  # every listener
        try:
            r = c.reply()
            self.assertTrue(r.last.startswith("421 4.7.0"), r.text)
        finally:
            c.close()

    def fail_and_close(self, c, fn):
        """The failure reaching max_failures: 421 4.7.0 (a 535 before it is fine), then close."""
        replies = []
        first = fn()
        replies.append(first)
        if first.code == 535:
            replies.append(c.reply())
        self.assertTrue(replies[-1].last.startswith("421 4.7.0"), replies)
        self.assertTrue(c.closed(), "connection still open after 421")

    def test_lockout_one_connection(self):
        srv = self.server()
        c = s.tls_session(srv)
        try:
            for _ in range(2):
                r = c.auth_plain(ALICE, "wrong")
                self.assertEqual(r.code, 535, r.text)
            self.fail_and_close(c, lambda: c.auth_login(ALICE, "wrong"))
        finally:
            c.close()
        self.assert_banned(srv)
        # even the right password does not get past the ban
        c = srv.client(0)
        try:
            self.assertEqual(c.reply().code, 421)
        finally:
            c.close()
        self.assertIsNotNone(srv.wait_log(r"banned", 2), srv.log_text())
        srv.stop()

    def test_lockout_across_connections(self):
        srv = self.server()
        for _ in range(2):
            c = s.tls_session(srv)
            try:
                self.assertEqual(c.auth_plain(BOB, "wrong").code, 535)
                c.expect("221", "QUIT")
            finally:
                c.close()
        c = s.implicit_session(srv, 1)
        try:
            self.fail_and_close(c, lambda: c.auth_plain(BOB, "wrong"))
        finally:
            c.close()
        self.assert_banned(srv)
        srv.stop()

    def test_success_below_threshold_not_banned(self):
        srv = self.server()
        c = s.tls_session(srv)
        try:
            for _ in range(2):
                self.assertEqual(c.auth_plain(ALICE, "wrong").code, 535)
            c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
            c.expect("221", "QUIT")
        finally:
            c.close()
        c = srv.client(0)
        try:
            self.assertEqual(c.reply().code, 220)
        finally:
            c.close()
        srv.stop()

    def test_ban_is_per_ip(self):
        srv = self.server(max_failures=1)
        c = s.tls_session(srv)
        try:
            self.fail_and_close(c, lambda: c.auth_plain(ALICE, "wrong"))
        finally:
            c.close()
        self.assert_banned(srv)
        other = srv.client(0, source="127.0.0.2")
        try:
            other.expect("220 ")
            other.ehlo()
            other.starttls()
            other.ehlo()
            other.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        finally:
            other.close()
        srv.stop()

    def test_ban_expires(self):
        srv = self.server(max_failures=1, ban_time=1)
        c = s.tls_session(srv)
        try:
            self.fail_and_close(c, lambda: c.auth_plain(ALICE, "wrong"))
        finally:
            c.close()
        self.assert_banned(srv)
        time.sleep(1.3)
        c = s.tls_session(srv)
        try:
            c.expect("235", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
            c.expect("221", "QUIT")
        finally:
            c.close()
        srv.stop()


if __name__ == "__main__":
    h.main("swaks", "openssl", "curl")

"""STARTTLS (RFC 3207) and implicit TLS (RFC 8314) against the real binary, with real peers:
Python ssl/smtplib, swaks, openssl s_client and curl."""

import re
import smtplib
import socket
import ssl
import sys
import time
import unittest
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)  # ssl.TLSVersion.TLSv1

STARTTLS, IMPLICIT, REQUIRED, IMPLICIT_OPEN, NO_TLS = 0, 1, 2, 3, 4
srv: s.SecTaube


def setUpModule():
    global srv
    srv = s.SecTaube([
        s.listener("starttls", auth=True),                      # port 25 style
        s.listener("implicit", submission=True),                # 465 style
        s.listener("required"),                                 # TLS mandatory before MAIL
        s.listener("implicit", submission=False),               # implicit TLS, no AUTH needed
        s.listener("none"),                                     # no TLS at all
    ])


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

    def conn(self, index=STARTTLS, implicit=False) -> s.TlsClient:
        c = srv.client(index, implicit=implicit)
        self.clients.append(c)
        return c

    def tls(self, index=STARTTLS) -> s.TlsClient:
        c = s.tls_session(srv, index)
        self.clients.append(c)
        return c

    def stored_with(self, rcpt: str, marker: bytes) -> bytes:
        msgs = s.find_marker(srv.mail_root, marker)
        self.assertEqual(len(msgs), 1, f"message with {marker!r} for {rcpt}: {msgs}")
        self.assertTrue(str(msgs[0]).startswith(str(srv.maildir(rcpt))), msgs[0])
        return msgs[0].read_bytes()

    def assert_serving(self, index=STARTTLS):
        """A fresh client still gets a normal session."""
        srv.assert_alive()
        c = self.conn(index)
        c.greet()
        c.expect("221", "QUIT")


class StartTls(Base):
    def test_ehlo_before_tls_offers_starttls_not_auth(self):
        c = self.conn()
        kw = s.ehlo_keywords(c.greet())
        self.assertIn("STARTTLS", kw)
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)

    def test_starttls_resets_session(self):
        c = self.conn()
        c.greet()
        r = c.starttls()
        self.assertEqual(r.last, "220 2.0.0 Ready to start TLS")
        self.assertIn(c.version(), ("TLSv1.2", "TLSv1.3"))
        # RFC 3207 §4.2: the client must EHLO again; the server forgot the earlier one.
        c.expect("503 5.5.1", "MAIL FROM:<a@localhost>")
        kw = s.ehlo_keywords(c.ehlo())
        self.assertNotIn("STARTTLS", kw)
        self.assertIn("AUTH PLAIN LOGIN SCRAM-SHA-256", kw)
        c.expect("503 5.5.1", "STARTTLS")
        c.expect("250", "MAIL FROM:<a@localhost>")
        c.expect("221", "QUIT")

    def test_starttls_in_transaction_resets_it(self):
        c = self.conn()
        c.greet()
        c.expect("250", "MAIL FROM:<a@localhost>")
        c.starttls()
        c.ehlo()
        c.expect("503 5.5.1", "RCPT TO:<b@localhost>")  # the plaintext transaction is gone

    def test_starttls_with_argument(self):
        c = self.conn()
        c.greet()
        c.expect("501 5.5.4", "STARTTLS foo")
        c.starttls()  # still possible afterwards
        c.ehlo()

    def test_tls12_accepted(self):
        c = self.conn()
        c.greet()
        c.starttls(s.client_ctx(maximum=ssl.TLSVersion.TLSv1_2))
        self.assertEqual(c.version(), "TLSv1.2")
        c.ehlo()

    def test_tls11_refused(self):
        ctx = s.client_ctx(maximum=ssl.TLSVersion.TLSv1_1)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # so that the CLIENT really offers TLS 1.1
        c = self.conn()
        c.greet()
        c.expect("220 2.0.0", "STARTTLS")
        # The alert comes from the server: the client did offer TLS 1.1 (SECLEVEL=0).
        with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
            c.wrap(ctx)
        self.assert_serving()

    def test_garbage_handshake_closes_and_server_keeps_serving(self):
        c = self.conn()
        c.greet()
        c.expect("220 2.0.0", "STARTTLS")
        c.send(b"EHLO this is not a TLS ClientHello\r\n" + b"\x00" * 64 + b"\r\n")
        data = c.read_until_close(5)
        self.assertFalse(data.startswith(b"250"), f"server answered plaintext after STARTTLS: "
                                                  f"{data!r}")
        self.assertTrue(c.closed(0.1))
        self.assert_serving()
        c2 = self.tls()
        c2.expect("250", "MAIL FROM:<a@localhost>")

    def test_client_disconnect_mid_handshake(self):
        c = self.conn()
        c.greet()
        c.expect("220 2.0.0", "STARTTLS")
        c.send(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03")  # a truncated ClientHello
        c.close()
        self.assert_serving()


class Policy(Base):
    def test_no_tls_listener(self):
        c = self.conn(NO_TLS)
        kw = s.ehlo_keywords(c.greet())
        self.assertNotIn("STARTTLS", kw)
        self.assertFalse([k for k in kw if k.startswith("AUTH")], kw)
        c.expect("502 5.5.1", "STARTTLS")
        c.expect("250", "NOOP")

    def test_tls12_aead_only(self):
        # TLS 1.2 with AEAD ciphers only (ECDSA certificate): CBC suites are refused.
        for cipher, ok in (("ECDHE-ECDSA-AES128-GCM-SHA256", True),
                           ("ECDHE-ECDSA-CHACHA20-POLY1305", True),
                           ("ECDHE-ECDSA-AES128-SHA", False),
                           ("ECDHE-ECDSA-AES256-SHA384", False)):
            with self.subTest(cipher=cipher):
                ctx = s.client_ctx(maximum=ssl.TLSVersion.TLSv1_2)
                ctx.set_ciphers(cipher + ":@SECLEVEL=0")
                c = self.conn(IMPLICIT_OPEN)
                if ok:
                    c.wrap(ctx)
                    self.assertEqual(c.sock.cipher()[0], cipher)
                    c.expect("220 ")
                else:
                    with self.assertRaisesRegex(ssl.SSLError, "HANDSHAKE_FAILURE"):
                        c.wrap(ctx)


class Injection(Base):
    """CVE-2011-0411: commands pipelined with STARTTLS were sent in plaintext; a server must not
    execute them after the handshake as if they had been sent over TLS."""

    def check_injection(self, injected: bytes):
        c = self.conn()
        c.greet()
        c.send(b"STARTTLS\r\n" + injected)  # ONE write
        r = c.reply()
        self.assertEqual(r.last, "220 2.0.0 Ready to start TLS")
        self.assertEqual(c.buf, b"", "plaintext reply to the injected command before the TLS "
                                     "handshake")
        c.wrap()
        r = c.cmd("EHLO client.test")
        self.assertTrue(r.lines[0].startswith(b"250-mx.test"),
                        f"first reply over TLS is not the EHLO reply, the injected "
                        f"{injected!r} was answered: {r.text!r}")
        # The injected command left no state behind either.
        c.expect("250", "MAIL FROM:<real@localhost>")
        c.expect("250", "RCPT TO:<real@localhost>")
        c.expect("250", "RSET")
        c.expect("221", "QUIT")
        self.assertTrue(c.closed())

    def test_rset(self):
        self.check_injection(b"RSET\r\n")

    def test_mail_from(self):
        self.check_injection(b"MAIL FROM:<x@y>\r\n")

    def test_mail_rcpt_data(self):
        self.check_injection(b"MAIL FROM:<x@y>\r\nRCPT TO:<victim@localhost>\r\nDATA\r\n")

    def test_partial_line(self):
        # An unterminated injected fragment must not be glued to the first line sent over TLS.
        self.check_injection(b"NOOP")

    def test_injected_in_separate_packet_before_handshake(self):
        # Not pipelined in one write but still before the ClientHello.
        c = self.conn()
        c.greet()
        c.send(b"STARTTLS\r\n")
        c.send(b"MAIL FROM:<x@y>\r\n")
        c.expect("220 2.0.0")
        self.assertEqual(c.buf, b"")
        time.sleep(0.1)
        # Depending on timing the server reads the injected line either with the STARTTLS line
        # (then it must discard it) or as the start of the handshake (then the handshake fails
        # and the connection is closed). Either is safe; answering it is not.
        try:
            c.wrap()
        except (ssl.SSLError, ConnectionError):
            self.assert_serving()
            return
        r = c.cmd("EHLO client.test")
        self.assertTrue(r.lines[0].startswith(b"250-mx.test"), r.text)
        c.expect("250", "MAIL FROM:<real@localhost>")


class Required(Base):
    def test_mail_before_starttls(self):
        c = self.conn(REQUIRED)
        kw = s.ehlo_keywords(c.greet())
        self.assertIn("STARTTLS", kw)
        c.expect("530 5.7.0", "MAIL FROM:<a@localhost>")
        c.starttls()
        c.ehlo()
        c.expect("250", "MAIL FROM:<a@localhost>")
        c.expect("250", "RCPT TO:<req@localhost>")

    def test_bdat_and_data_before_starttls_refused(self):
        c = self.conn(REQUIRED)
        c.greet()
        c.expect("530 5.7.0", "MAIL FROM:<a@localhost>")
        c.expect("503", "RCPT TO:<req@localhost>")
        c.expect("503", "DATA")


class Implicit(Base):
    def test_greeting_after_handshake(self):
        c = self.conn(IMPLICIT_OPEN, implicit=True)
        self.assertIn(c.version(), ("TLSv1.2", "TLSv1.3"))
        c.expect("220 ")
        kw = s.ehlo_keywords(c.ehlo())
        self.assertNotIn("STARTTLS", kw)
        c.expect("503 5.5.1", "STARTTLS")

    def test_submission_implicit_needs_auth(self):
        c = self.conn(IMPLICIT, implicit=True)
        c.expect("220 ")
        kw = s.ehlo_keywords(c.ehlo())
        self.assertIn("AUTH PLAIN LOGIN SCRAM-SHA-256", kw)
        c.expect("530 5.7.0", "MAIL FROM:<alice@example.org>")

    def test_plaintext_client_gets_no_smtp(self):
        # RFC 8314: the server speaks TLS first; a plaintext client never sees SMTP.
        c = self.conn(IMPLICIT_OPEN)
        c.send(b"EHLO plain.test\r\nMAIL FROM:<a@localhost>\r\n")
        data = c.read_until_close(5)
        self.assertNotIn(b"220", data)
        self.assertNotIn(b"250", data)
        self.assertTrue(c.closed(0.1))
        self.assert_serving(STARTTLS)

    def test_tls11_refused_implicit(self):
        ctx = s.client_ctx(maximum=ssl.TLSVersion.TLSv1_1)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with self.assertRaisesRegex(ssl.SSLError, "PROTOCOL_VERSION"):
            self.conn(IMPLICIT_OPEN, implicit=False).wrap(ctx)

    def test_verified_by_generated_certificate(self):
        # The generated self-signed certificate is for the hostname: verify chain + mx.test.
        self.assertTrue(srv.cert.is_file() and srv.key.is_file())
        self.assertEqual(srv.key.stat().st_mode & 0o077, 0, "private key readable by others")
        ctx = s.client_ctx(cafile=srv.cert)
        raw = socket.create_connection((h.HOST, srv.ports[IMPLICIT_OPEN]), timeout=10)
        with ctx.wrap_socket(raw, server_hostname="mx.test") as t:
            self.assertTrue(t.recv(512).startswith(b"220 "))
            t.sendall(b"QUIT\r\n")
        raw = socket.create_connection((h.HOST, srv.ports[IMPLICIT_OPEN]), timeout=10)
        with self.assertRaises(ssl.SSLCertVerificationError):
            ctx.wrap_socket(raw, server_hostname="other.test")
        raw.close()


class SmtplibPeer(Base):
    def test_starttls_sendmail(self):
        with smtplib.SMTP(h.HOST, srv.ports[STARTTLS], local_hostname="smtplib.test",
                          timeout=10) as c:
            c.ehlo()
            self.assertTrue(c.has_extn("starttls"))
            self.assertFalse(c.has_extn("auth"))
            code, msg = c.starttls(context=s.client_ctx())
            self.assertEqual(code, 220)
            c.ehlo()
            self.assertFalse(c.has_extn("starttls"))
            self.assertIn("PLAIN", c.esmtp_features.get("auth", "").upper())
            c.sendmail("py@localhost", ["pytls@localhost"],
                       s.message("py@localhost", "pytls@localhost", "smtplib-starttls"))
        raw = self.stored_with("pytls@localhost", b"smtplib-starttls")
        rec = s.parse_received(raw)
        self.assertEqual(rec["with"], "ESMTPS", rec)
        self.assertRegex(rec["tls"] or "", s.TLS_INFO_RX)
        self.assertIsNone(rec["auth"])
        self.assertEqual(rec["helo"], "smtplib.test")

    def test_smtp_ssl_sendmail(self):
        ctx = s.client_ctx(cafile=srv.cert)
        ctx.check_hostname = False  # smtplib would check "127.0.0.1"; chain still verified
        with smtplib.SMTP_SSL(h.HOST, srv.ports[IMPLICIT_OPEN], context=ctx, timeout=10,
                              local_hostname="smtplib.test") as c:
            c.ehlo()
            self.assertEqual(c.sock.version(), "TLSv1.3")
            c.sendmail("py@localhost", ["pyssl@localhost"],
                       s.message("py@localhost", "pyssl@localhost", "smtplib-ssl"))
        rec = s.parse_received(self.stored_with("pyssl@localhost", b"smtplib-ssl"))
        self.assertEqual(rec["with"], "ESMTPS", rec)
        self.assertRegex(rec["tls"] or "", r"^TLSv1\.3 with cipher ")


class SwaksPeer(Base):
    def swaks(self, port, *args):
        return s.run(["swaks", "--server", h.HOST, "--port", str(port), "--helo", "swaks.test",
                      "--timeout", "10", *args])

    def test_swaks_tls(self):
        p = self.swaks(srv.ports[STARTTLS], "--tls", "--from", "sw@localhost",
                       "--to", "swtls@localhost", "--header", "Subject: swaks-tls")
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.assertIn("220 2.0.0 Ready to start TLS", o)
        self.assertRegex(o, r"TLS started with cipher TLSv1\.[23]")
        qid = self.assert_queued(o)
        rec = s.parse_received(self.stored_with("swtls@localhost", b"swaks-tls"))
        self.assertEqual(rec["with"], "ESMTPS", rec)
        self.assertEqual(rec["id"], qid)
        self.assertRegex(rec["tls"] or "", s.TLS_INFO_RX)

    def test_swaks_tlsc(self):
        p = self.swaks(srv.ports[IMPLICIT_OPEN], "--tlsc", "--from", "sw@localhost",
                       "--to", "swtlsc@localhost", "--header", "Subject: swaks-tlsc")
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.assert_queued(o)
        rec = s.parse_received(self.stored_with("swtlsc@localhost", b"swaks-tlsc"))
        self.assertEqual(rec["with"], "ESMTPS", rec)

    def test_swaks_tls_against_required(self):
        p = self.swaks(srv.ports[REQUIRED], "--tls", "--from", "sw@localhost",
                       "--to", "swreq@localhost", "--header", "Subject: swaks-required")
        self.assertEqual(p.returncode, 0, s.out(p))
        self.stored_with("swreq@localhost", b"swaks-required")

    def test_swaks_without_tls_against_required(self):
        p = self.swaks(srv.ports[REQUIRED], "--from", "sw@localhost", "--to", "swno@localhost")
        o = s.out(p)
        self.assertNotEqual(p.returncode, 0, o)
        self.assertIn("530 5.7.0", o)
        self.assertEqual(s.find_marker(srv.mail_root, b"swno@localhost", 0.2), [])

    def assert_queued(self, o):
        m = re.search(r"<~  250 2\.0\.0 Ok: queued as (\S+)", o)
        self.assertIsNotNone(m, f"no TLS-side 'queued as' in swaks output:\n{o}")
        return m.group(1)


class OpensslPeer(Base):
    def s_client(self, *args, stdin=b"EHLO sclient.test\r\nQUIT\r\n"):
        return s.run(["openssl", "s_client", "-connect", f"{h.HOST}:{srv.ports[STARTTLS]}",
                      "-starttls", "smtp", "-ign_eof", *args], input=stdin, timeout=30)

    def test_s_client_session(self):
        p = self.s_client("-servername", "mx.test")
        o = s.out(p)
        # (The exit status is 1 while the server omits close_notify: see CloseNotify.)
        self.assertIn("CONNECTED", o)
        self.assertRegex(o, r"Protocol\s*: TLSv1\.[23]")
        self.assertIn("subject=CN = mx.test", o)
        self.assertIn("250-AUTH PLAIN LOGIN", o)  # the EHLO we sent over TLS was answered
        self.assertNotIn("250-STARTTLS", o.split("---\n")[-1])
        self.assertRegex(o, r"221 2\.0\.0")

    def test_s_client_tls11_refused(self):
        p = self.s_client("-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        o = s.out(p)
        self.assertNotEqual(p.returncode, 0, o)
        self.assertNotIn("250-AUTH", o)
        # A server alert (not a client-side "no protocols available"): 1.1 was really offered.
        self.assertIn("alert protocol version", o)
        self.assert_serving()

    def test_s_client_tls12_and_13(self):
        for v, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
            with self.subTest(v):
                p = self.s_client(v)
                o = s.out(p)
                self.assertRegex(o, rf"Protocol\s*: {name}")
                self.assertIn("250-AUTH PLAIN LOGIN", o)


class CloseNotify(Base):
    """RFC 8446 §6.1 (and RFC 5246 §7.2.1): "Each party MUST send a close_notify alert before
    closing its write side of the connection". Without it a client cannot tell the server's 221
    + close from a truncation attack: OpenSSL 3 reports "unexpected eof while reading" and
    `openssl s_client` exits 1."""

    def check_close_notify(self, t: ssl.SSLSocket):
        t.sendall(b"QUIT\r\n")
        data = b""
        try:
            while not data.endswith(b"\r\n"):
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.assertTrue(data.startswith(b"221 "), data)
            self.assertEqual(t.recv(4096), b"")  # b"" only on a received close_notify
        except ssl.SSLEOFError as e:
            self.fail(f"server closed the TLS connection after {data!r} without close_notify: "
                      f"{e}")

    def test_starttls_quit(self):
        raw = socket.create_connection((h.HOST, srv.ports[STARTTLS]), timeout=10)
        f = raw.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        raw.sendall(b"STARTTLS\r\n")
        self.assertTrue(f.readline().startswith(b"220 2.0.0"))
        f.close()
        t = s.client_ctx().wrap_socket(raw, server_hostname="mx.test",
                                       suppress_ragged_eofs=False)
        with t:
            self.check_close_notify(t)

    def test_implicit_quit(self):
        raw = socket.create_connection((h.HOST, srv.ports[IMPLICIT_OPEN]), timeout=10)
        t = s.client_ctx().wrap_socket(raw, server_hostname="mx.test",
                                       suppress_ragged_eofs=False)
        with t:
            self.assertTrue(t.recv(512).startswith(b"220 "))
            self.check_close_notify(t)

    def test_s_client_exit_status(self):
        p = s.run(["openssl", "s_client", "-connect", f"{h.HOST}:{srv.ports[STARTTLS]}",
                   "-starttls", "smtp", "-ign_eof", "-quiet"],
                  input=b"EHLO sclient.test\r\nQUIT\r\n")
        o = s.out(p)
        self.assertIn("221 2.0.0", o)
        self.assertEqual(p.returncode, 0, o)


class CurlPeer(Base):
    def test_curl_ssl_reqd(self):
        f = srv.work / "curl.eml"
        f.write_bytes(s.message("curl@localhost", "curltls@localhost", "curl-ssl-reqd"))
        p = s.run(["curl", "-sS", "-v", "--max-time", "20", "--ssl-reqd", "-k",
                   f"smtp://{h.HOST}:{srv.ports[STARTTLS]}/curl.test",
                   "--mail-from", "curl@localhost", "--mail-rcpt", "curltls@localhost",
                   "--upload-file", str(f)])
        o = s.out(p)
        self.assertEqual(p.returncode, 0, o)
        self.assertIn("STARTTLS", o)
        rec = s.parse_received(self.stored_with("curltls@localhost", b"curl-ssl-reqd"))
        self.assertEqual(rec["with"], "ESMTPS", rec)
        self.assertEqual(rec["helo"], "curl.test")

    def test_curl_smtps(self):
        f = srv.work / "curls.eml"
        f.write_bytes(s.message("curl@localhost", "curlssl@localhost", "curl-smtps"))
        p = s.run(["curl", "-sS", "-v", "--max-time", "20", "-k",
                   f"smtps://{h.HOST}:{srv.ports[IMPLICIT_OPEN]}/curl.test",
                   "--mail-from", "curl@localhost", "--mail-rcpt", "curlssl@localhost",
                   "--upload-file", str(f)])
        self.assertEqual(p.returncode, 0, s.out(p))
        rec = s.parse_received(self.stored_with("curlssl@localhost", b"curl-smtps"))
        self.assertEqual(rec["with"], "ESMTPS", rec)


class Concurrency(Base):
    def test_stalled_handshake_does_not_block_others(self):
        # A client that never sends its ClientHello must not stall other sessions.
        stalled = self.conn(IMPLICIT_OPEN)
        c = self.conn(STARTTLS)
        c.greet()
        stalled2 = self.conn()
        stalled2.greet()
        stalled2.expect("220 2.0.0", "STARTTLS")
        t = time.monotonic()
        c.starttls()
        c.ehlo()
        c.expect("250", "MAIL FROM:<a@localhost>")
        self.assertLess(time.monotonic() - t, 3)
        c3 = self.conn(IMPLICIT_OPEN, implicit=True)
        c3.expect("220 ")


if __name__ == "__main__":
    h.main("swaks", "openssl", "curl")

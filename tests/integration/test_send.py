"""`taube send` (docs/send.md): a swaks-like client on the queue's own client session.

Against a recording SmtpPeer: the envelope, the composed headers (Date, Message-ID added, the
user's own kept), a multipart/mixed attachment decoded with Python's email package, 4xx -> exit
75, 5xx -> 69, the -v dialog's C:/S: shape, STARTTLS with certificate verification (a private
CA with --ca-file, the host name checked), usage errors (64, and no option to put a password on
the command line), the MX lookup of the first recipient's domain against the test DNS server.
Against the real taube server: AUTH (TAUBE_PASSWORD, --password-file, a wrong password -> 77)
over STARTTLS verified by name, and implicit TLS."""

import email
import email.policy
import os
import socket
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.maildir import wait_messages  # noqa: E402
from taubetest.security import ALICE, ALICE_PW, BOB  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, make_cert  # noqa: E402
from taubetest.dns_server import DnsServer  # noqa: E402

PEER_HOST = "127.0.0.2"
tmp: tempfile.TemporaryDirectory
CERT: tuple[str, str]


def setUpModule():
    global tmp, CERT
    tmp = tempfile.TemporaryDirectory(prefix="taube-send-")
    CERT = make_cert(tmp.name, cn="peer.test")


def tearDownModule():
    tmp.cleanup()


def send(*args: str, env: dict | None = None, input: bytes | None = None, timeout: float = 30):
    e = {k: v for k, v in os.environ.items() if k != "TAUBE_PASSWORD"}
    e.update(env or {})
    import subprocess
    return subprocess.run([s.taube_bin(), "send", "--timeout", "10", *args], capture_output=True,
                          timeout=timeout, input=input, env=e)


def text(p) -> str:
    return (f"exit {p.returncode}\n--- stdout ---\n{p.stdout.decode(errors='replace')}"
            f"\n--- stderr ---\n{p.stderr.decode(errors='replace')}")


def parsed(data: bytes):
    """The message as Python's email package reads it (LF line endings, as from a file)."""
    return email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)


def write(name: str, data: bytes) -> str:
    path = Path(tmp.name) / name
    path.write_bytes(data)
    return str(path)


class Peer(unittest.TestCase):
    def peer(self, **kw) -> SmtpPeer:
        p = SmtpPeer(host=PEER_HOST, **kw)
        self.addCleanup(p.stop)
        return p

    def test_envelope_headers_and_attachment(self):
        peer = self.peer()
        body = write("body.txt", b"Hallo Bob,\r\n.a line with a dot\r\nbye\r\n")
        pdf = bytes(range(256)) * 40
        att = write("report.pdf", pdf)
        p = send("--server", peer.address, "--from", "alice@example.org",
                 "--to", "bob@remote.test", "--to", "<carol@remote.test>",
                 "--subject", "Quartalsbericht", "--header", "X-Test: yes",
                 "--header", "Reply-To: boss@example.org", "--body", body, "--attach", att)
        self.assertEqual(p.returncode, 0, text(p))
        [m] = peer.wait_for(1, 10)
        self.assertEqual(m.mail_from, "alice@example.org")
        self.assertEqual(m.rcpt_addrs(), ["bob@remote.test", "carol@remote.test"])
        self.assertEqual(len(peer.sessions()), 1)
        msg = parsed(m.data)
        self.assertEqual(msg["From"], "alice@example.org")
        self.assertEqual(msg["To"], "bob@remote.test, carol@remote.test")
        self.assertEqual(msg["Subject"], "Quartalsbericht")
        self.assertEqual(msg["X-Test"], "yes")
        self.assertEqual(msg["Reply-To"], "boss@example.org")
        self.assertIsNotNone(msg["Date"].datetime, msg["Date"])  # parses as an RFC 5322 date
        self.assertRegex(msg["Message-ID"], r"^<[^<>@\s]+@[^<>@\s]+>$")
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = list(msg.iter_parts())
        self.assertEqual(len(parts), 2)
        self.assertEqual(parts[0].get_content(), "Hallo Bob,\n.a line with a dot\nbye\n")
        self.assertEqual(parts[1].get_content_type(), "application/pdf")
        self.assertEqual(parts[1].get_filename(), "report.pdf")
        self.assertEqual(parts[1].get_content(), pdf)
        self.assertIn(b"\r\n", m.data)  # CRLF on the wire (the peer keeps it)
        out = p.stdout.decode()
        self.assertIn("<bob@remote.test> delivered: 250", out)
        self.assertIn("<carol@remote.test> delivered: 250", out)

    def test_user_date_and_message_id_are_kept(self):
        peer = self.peer()
        p = send("--server", peer.address, "--from", "a@example.org", "--to", "b@remote.test",
                 "--header", "Date: Mon, 01 Jan 2024 10:00:00 +0000",
                 "--header", "Message-ID: <fixed@example.org>")
        self.assertEqual(p.returncode, 0, text(p))
        [m] = peer.wait_for(1, 10)
        msg = parsed(m.data)
        self.assertEqual(msg.get_all("Date"), ["Mon, 01 Jan 2024 10:00:00 +0000"])
        self.assertEqual(msg.get_all("Message-ID"), ["<fixed@example.org>"])
        self.assertEqual(msg.get_content(), "This is a test mailing\n")

    def test_body_from_stdin(self):
        peer = self.peer()
        p = send("--server", peer.address, "--from", "a@example.org", "--to", "b@remote.test",
                 "--body", "-", input="Grüße aus Köln\n".encode())
        self.assertEqual(p.returncode, 0, text(p))
        [m] = peer.wait_for(1, 10)
        msg = parsed(m.data)
        self.assertEqual(msg.get_content(), "Grüße aus Köln\n")
        self.assertTrue(all(b < 0x80 for b in m.data), "8-bit text must go base64-encoded")

    def test_4xx_is_deferred_75(self):
        peer = self.peer(rcpt=lambda addr, n: "451 4.7.1 greylisted, try later")
        p = send("--server", peer.address, "--from", "a@example.org", "--to", "b@remote.test")
        self.assertEqual(p.returncode, 75, text(p))
        self.assertIn("<b@remote.test> deferred: 451 4.7.1 greylisted", p.stdout.decode())
        self.assertEqual(peer.messages(), [])

    def test_5xx_is_refused_69(self):
        peer = self.peer(rcpt=lambda addr, n: "550 5.1.1 no such user" if "nobody" in addr
                         else None)
        p = send("--server", peer.address, "--from", "a@example.org", "--to", "b@remote.test",
                 "--to", "nobody@remote.test")
        self.assertEqual(p.returncode, 69, text(p))
        out = p.stdout.decode()
        self.assertIn("<b@remote.test> delivered", out)
        self.assertIn("<nobody@remote.test> refused: 550 5.1.1 no such user", out)
        [m] = peer.wait_for(1, 10)
        self.assertEqual(m.rcpt_addrs(), ["b@remote.test"])

    def test_refused_at_end_of_data_is_69_and_connection_refused_75(self):
        peer = self.peer(data=lambda t: "554 5.7.1 spam")
        p = send("--server", peer.address, "--from", "a@example.org", "--to", "b@remote.test")
        self.assertEqual(p.returncode, 69, text(p))
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind((PEER_HOST, 0))
            port = sock.getsockname()[1]
        p = send("--server", f"{PEER_HOST}:{port}", "--to", "b@remote.test")
        self.assertEqual(p.returncode, 75, text(p))
        self.assertIn("Connection refused", p.stderr.decode())

    def test_verbose_dialog(self):
        peer = self.peer()
        body = write("dots.txt", b"first\n.starts with a dot\n")
        p = send("-v", "--server", peer.address, "--from", "a@example.org",
                 "--to", "b@remote.test", "--subject", "dialog", "--body", body)
        self.assertEqual(p.returncode, 0, text(p))
        lines = p.stdout.decode().splitlines()
        self.assertEqual(lines[0], f"*** Trying peer.test[{PEER_HOST}]:{peer.port}..."
                         .replace("peer.test", PEER_HOST), text(p))
        self.assertTrue(lines[2].startswith("S: 220 "), text(p))
        self.assertTrue(lines[3].startswith("C: EHLO "), text(p))
        for want in ["C: MAIL FROM:<a@example.org>", "C: RCPT TO:<b@remote.test>", "C: DATA",
                     "C: Subject: dialog", "C: first", "C: ..starts with a dot", "C: .",
                     "C: QUIT"]:
            self.assertIn(want, lines, text(p))
        self.assertTrue(any(l.startswith("S: 354") for l in lines), text(p))
        self.assertTrue(any(l.startswith("S: 221") for l in lines), text(p))
        # Every dialog line is C:, S: or a *** note, then the per-recipient result.
        for l in lines[:-1]:
            self.assertRegex(l, r"^(C: |S: |\*\*\* )", text(p))
        self.assertTrue(lines[-1].startswith("<b@remote.test> delivered: 250"), text(p))
        self.assertLess(lines.index("C: DATA"), lines.index("C: first"))
        self.assertLess(lines.index("C: ."), lines.index("C: QUIT"))

    def test_starttls_verified_with_a_private_ca(self):
        # The certificate is for peer.test: found by MX so the name is checked.
        peer = self.peer(tls=CERT, extensions=["PIPELINING", "8BITMIME", "STARTTLS"])
        zone = {"remote.test": {"MX": [[10, "peer.test"]]}, "peer.test": {"A": [PEER_HOST]}}
        with DnsServer(zone) as dns:
            p = send("--starttls", "--ca-file", CERT[0], "--dns-server",
                     f"127.0.0.1:{dns.port}", "--port", str(peer.port), "-v",
                     "--from", "a@example.org", "--to", "b@remote.test")
            self.assertEqual(p.returncode, 0, text(p))
            [m] = peer.wait_for(1, 10)
            self.assertTrue(m.session.tls)
            self.assertIn("*** TLS started: TLSv1.", p.stdout.decode())
            # Without the CA: the system trust store does not know it; deferred, not sent.
            p = send("--starttls", "--dns-server", f"127.0.0.1:{dns.port}", "--port",
                     str(peer.port), "--to", "b@remote.test")
            self.assertEqual(p.returncode, 75, text(p))
            self.assertIn("certificate verify failed", p.stderr.decode())
            self.assertIn("--no-verify", p.stderr.decode())
        # By address: the certificate does not name 127.0.0.2.
        p = send("--starttls", "--ca-file", CERT[0], "--server", peer.address,
                 "--to", "b@remote.test")
        self.assertEqual(p.returncode, 75, text(p))
        p = send("--starttls", "--no-verify", "--server", peer.address, "--to", "b@remote.test")
        self.assertEqual(p.returncode, 0, text(p))
        self.assertEqual(len(peer.messages()), 2)

    def test_no_tls_and_opportunistic(self):
        peer = self.peer(tls=CERT, extensions=["PIPELINING", "STARTTLS"])
        p = send("--no-tls", "--server", peer.address, "--to", "b@remote.test")
        self.assertEqual(p.returncode, 0, text(p))
        p = send("--no-verify", "--server", peer.address, "--to", "b@remote.test")
        self.assertEqual(p.returncode, 0, text(p))
        first, second = peer.messages()
        self.assertFalse(first.session.tls)
        self.assertTrue(second.session.tls)  # STARTTLS when offered, by default

    def test_mx_lookup_of_the_first_recipient(self):
        peer = self.peer()
        zone = {"mxdom.test": {"MX": [[10, "mx1.mxdom.test"]]},
                "mx1.mxdom.test": {"A": [PEER_HOST]}, "gone.test": "NXDOMAIN",
                "broken.test": "SERVFAIL"}
        with DnsServer(zone) as dns:
            ns = f"127.0.0.1:{dns.port}"
            p = send("--dns-server", ns, "--port", str(peer.port), "--from", "a@example.org",
                     "--to", "x@mxdom.test", "--to", "y@mxdom.test")
            self.assertEqual(p.returncode, 0, text(p))
            [m] = peer.wait_for(1, 10)
            self.assertEqual(m.rcpt_addrs(), ["x@mxdom.test", "y@mxdom.test"])
            self.assertGreaterEqual(dns.asked("mxdom.test", "MX"), 1)
            p = send("--dns-server", ns, "--port", str(peer.port), "--to", "x@gone.test")
            self.assertEqual(p.returncode, 69, text(p))
            self.assertIn("5.1.2", p.stderr.decode())
            p = send("--dns-server", ns, "--port", str(peer.port), "--to", "x@broken.test")
            self.assertEqual(p.returncode, 75, text(p))


class Usage(unittest.TestCase):
    def test_usage_errors_are_64(self):
        for args in (["--from", "a@example.org"],                  # no --to
                     ["--to", "b@x.test", "--password", "secret"],  # there is no such option
                     ["--to", "b@x.test", "--tls", "--no-tls"],
                     ["--to", "b@x.test", "--starttls", "--tls"],
                     ["--to", "not-an-address"],
                     ["--to", "b@x.test", "--header", "no colon here"],
                     ["--to", "b@x.test", "--header", "Bad Name: x"],
                     ["--to", "b@x.test", "--server", "[::1"]):
            p = send(*args)
            self.assertEqual(p.returncode, 64, f"{args}: {text(p)}")

    def test_unreadable_input_is_66(self):
        p = send("--to", "b@x.test", "--server", "127.0.0.1:1", "--body", "/nonexistent/body")
        self.assertEqual(p.returncode, 66, text(p))
        p = send("--to", "b@x.test", "--server", "127.0.0.1:1", "--attach", "/nonexistent/f")
        self.assertEqual(p.returncode, 66, text(p))

    def test_help_documents_password_sources_and_verification(self):
        p = send("--help")
        self.assertEqual(p.returncode, 0, text(p))
        out = p.stdout.decode()
        for want in ("TAUBE_PASSWORD", "--password-file", "--no-verify", "verified by default",
                     "--dns-server", "75 deferred", "69 refused"):
            self.assertIn(want, out)
        self.assertNotIn("--password ", out)
        import subprocess
        top = subprocess.run([s.taube_bin(), "--help"], capture_output=True, timeout=10)
        self.assertIn(b"send", top.stdout)

    def test_auth_without_a_password_source_is_64(self):
        # No terminal (setsid: no controlling tty), no TAUBE_PASSWORD, no file: refused before
        # connecting.
        import subprocess
        e = {k: v for k, v in os.environ.items() if k != "TAUBE_PASSWORD"}
        p = subprocess.run(["setsid", s.taube_bin(), "send", "--auth", "alice", "--to", "b@x.test",
                            "--server", "127.0.0.1:1"], capture_output=True, timeout=10, env=e,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 64, text(p))
        self.assertIn("TAUBE_PASSWORD", p.stderr.decode())


STARTTLS_AUTH, IMPLICIT = range(2)
srv: s.SecTaube


class RealServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global srv
        srv = s.SecTaube([s.listener("starttls", auth=True, submission=True),
                          s.listener("implicit", submission=True)])
        cls.dns = DnsServer({"example.org": {"MX": [[10, h.HOSTNAME]]},
                             h.HOSTNAME: {"A": [s.HOST]}})
        cls.dns.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.dns.__exit__(None, None, None)
        try:
            srv.stop()
        finally:
            srv.cleanup()

    def tearDown(self):
        srv.assert_alive()

    def via_mx(self, *args, **kw):
        """STARTTLS to the server found by MX (the certificate names mx.test, verified)."""
        return send("--dns-server", f"127.0.0.1:{self.dns.port}", "--port",
                    str(srv.ports[STARTTLS_AUTH]), "--starttls", "--ca-file", str(srv.cert),
                    *args, **kw)

    def test_auth_with_taube_password_over_verified_starttls(self):
        p = self.via_mx("-v", "--auth", ALICE, "--from", ALICE, "--to", BOB, "--subject",
                        "send-auth-env", env={"TAUBE_PASSWORD": ALICE_PW})
        self.assertEqual(p.returncode, 0, text(p) + srv.log_text())
        out = p.stdout.decode()
        self.assertIn("C: AUTH ", out)
        self.assertNotIn(ALICE_PW, out)
        self.assertRegex(out, r"S: 235 ")
        [f] = wait_messages(srv.maildir(BOB), 1)
        msg = parsed(f.read_bytes())
        self.assertEqual(msg["Subject"], "send-auth-env")
        self.assertIn("ESMTPSA", msg["Received"])  # authenticated, over TLS (RFC 3848)
        f.unlink()

    def test_password_file_and_wrong_password(self):
        pw = write("pw", (ALICE_PW + "\n").encode())
        p = self.via_mx("--auth", ALICE, "--password-file", pw, "--from", ALICE, "--to", BOB,
                        "--subject", "send-auth-file")
        self.assertEqual(p.returncode, 0, text(p))
        [f] = wait_messages(srv.maildir(BOB), 1)
        f.unlink()
        p = self.via_mx("-v", "--auth", ALICE, "--from", ALICE, "--to", BOB,
                        env={"TAUBE_PASSWORD": "wrong"})
        self.assertEqual(p.returncode, 77, text(p))
        self.assertRegex(p.stdout.decode(), r"S: 535 ")  # the dialog up to the refusal

    def test_implicit_tls(self):
        p = send("-v", "--tls", "--no-verify", "--server", f"{s.HOST}:{srv.ports[IMPLICIT]}",
                 "--auth", ALICE, "--from", ALICE, "--to", BOB, "--subject", "send-implicit",
                 env={"TAUBE_PASSWORD": ALICE_PW})
        self.assertEqual(p.returncode, 0, text(p) + srv.log_text())
        self.assertIn("*** TLS started: TLSv1.", p.stdout.decode())
        [f] = wait_messages(srv.maildir(BOB), 1)
        msg = parsed(f.read_bytes())
        self.assertEqual(msg["Subject"], "send-implicit")
        self.assertIn("TLS", msg["Received"])
        f.unlink()


if __name__ == "__main__":
    h.main()

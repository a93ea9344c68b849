"""Relay policy: Taube must never be an open relay (RFC 5321 §3.6.2, §7.1). Unauthenticated
clients outside [relay] networks may only reach local domains; authenticated clients and trusted
networks relay into <spool>/new + <spool>/env.

The open-relay battery runs from 127.0.0.1 with networks = []: every foreign-looking recipient
must get a 5xx, and anything that is accepted must end up ONLY in a Maildir of a local domain.
"""

import re
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.security import ALICE, ALICE_PW, LOCAL_DOMAINS  # noqa: E402

FOREIGN = "user@example.com"

# (RCPT argument exactly as sent, description). Each is tried in a fresh session.
BATTERY = [
    ("<user@example.com>", "foreign domain"),
    ("<user%example.com@localhost>", "percent hack"),
    ('<"user@example.com"@localhost>', "quoted local part holding an address"),
    ("<@localhost:user@example.com>", "source route via us"),
    ("<@localhost,@example.org:user@example.com>", "source route, two hops"),
    ("<user@example.com@localhost>", "double @"),
    ("<USER@EXAMPLE.COM>", "uppercase foreign"),
    ("<user@example.com.>", "trailing dot"),
    ("<user@[127.0.0.1]>", "IPv4 literal of this host"),
    ("<user@[IPv6:::1]>", "IPv6 literal of this host"),
    ("<user@[192.0.2.1]>", "foreign IPv4 literal"),
    ("< user@example.com >", "spaces inside brackets"),
    (" <user@example.com>", "space before bracket"),
    ("<user@example.com> ", "trailing space"),
    ("user@example.com", "no brackets"),
    ("<user!example.com@localhost>", "bang path"),
    ("<example.com!user@localhost>", "bang path, UUCP order"),
    ("<user@localhost@example.com>", "local then foreign"),
    ('<"user@localhost"@example.com>', "quoted local, foreign domain"),
    ("<user@sub.example.org>", "subdomain of a local domain"),
    ("<user@example.org.example.com>", "local domain as a foreign label"),
    ("<user@localhost.>", "local domain with trailing dot"),
    ("<user@example.com%localhost>", "percent in domain"),
    ("<user@example.com> NOTIFY=NEVER", "with ESMTP parameters"),
    ("<user@example.com>\tNOTIFY=NEVER", "tab before parameter"),
    ("<user@xn--exmple-cua.com>", "IDN A-label"),
    ("<postmaster@example.com>", "postmaster at foreign domain"),
]


def xtext(v: str) -> str:
    """RFC 3461 §4 xtext, as the queue envelope writes every value."""
    out, i = bytearray(), 0
    while i < len(v):
        if v[i] == "+":
            out.append(int(v[i + 1:i + 3], 16))
            i += 3
        else:
            if not ("!" <= v[i] <= "~") or v[i] == "=":
                raise AssertionError(f"not xtext: {v!r}")
            out.append(ord(v[i]))
            i += 1
    return out.decode("utf-8")


def env_fields(path: Path) -> list[tuple[str, str]]:
    """The queue envelope (src/queue/envelope.hpp, "taube-envelope 1") as (key, value) pairs:
    version, id, from (an address, "" for <>), auth, and per recipient "rcpt" with the address
    and its DSN parameters (" notify=6 orcpt=rfc822;x"). Every line must be a known record with
    xtext values, so an injected line break or space cannot hide a second record."""
    text = path.read_text()
    if not text.endswith("\n"):
        raise AssertionError(f"envelope {path} does not end with a newline: {text!r}")
    lines = text.splitlines()
    if lines[0] != "taube-envelope 1" or lines[-1] != "end":
        raise AssertionError(f"not a complete taube-envelope 1 file: {text!r}")
    out = [("version", "1")]
    for line in lines[1:-1]:
        if "\r" in line or not re.fullmatch(r"[a-z]+ [!-~]*( [!-~]*)*", line):
            raise AssertionError(f"malformed envelope line {line!r} in {path}: {text!r}")
        k, *f = line.split(" ")
        if k == "from":
            out.append(("from", "" if f == ["<>"] else f"{xtext(f[0])}@{xtext(f[1])}"))
        elif k == "rcpt":
            params = [x for x in f[2:] if x.split("=")[0] in ("notify", "orcpt")]
            out.append(("rcpt", " ".join([f"{xtext(f[0])}@{xtext(f[1])}"] + params)))
        elif k in ("id", "auth", "arrival"):
            out.append((k, xtext(f[0])))
        elif k == "param":
            out.extend(tuple(x.split("=", 1)) for x in f)
        elif k == "client":
            out.append(("client", xtext(f[0])))
        else:
            raise AssertionError(f"unknown envelope record {line!r} in {path}")
    return out


class SpoolMixin:
    srv: s.SecTaube

    def relayed(self, qid: str) -> tuple[bytes, list[tuple[str, str]]]:
        """The spooled message and envelope for queue id `qid`. A small message is a record of
        the queue's journal until its first attempt (here: a refused connection) has it written
        out as queue files, a moment after the 250: waited for."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            new, env = self.srv.wait_spool(1)
            for e in env:
                fields = env_fields(e)
                if ("id", qid) in fields:
                    msg = self.srv.spool / "new" / e.name
                    self.assertTrue(msg.is_file(), f"envelope {e} without message {msg}")
                    self.assertEqual(fields[0], ("version", "1"), fields)
                    return msg.read_bytes(), fields
            time.sleep(0.05)
        self.fail(f"no envelope with id {qid} in {self.srv.spool}: "
                  f"{[p.read_text() for p in self.srv.spool_files('env')]}")

    def assert_spool_tmp_clean(self):
        tmp = self.srv.spool / "tmp"
        if tmp.is_dir():
            self.assertEqual(list(tmp.iterdir()), [])


class OpenRelayBattery(unittest.TestCase):
    """networks = [], unauthenticated, from 127.0.0.1."""

    @classmethod
    def setUpClass(cls):
        cls.srv = s.SecTaube([s.listener("starttls"), s.listener("implicit")])
        cls.accepted: list[tuple[str, bytes]] = []

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.srv.cleanup()

    def probe(self, c: s.TlsClient, i: int, arg: str, what: str, tag: str):
        before = set(self.srv.spool_files("new") + self.srv.spool_files("env"))
        c.expect("250", "MAIL FROM:<spammer@example.net>")
        r = c.cmd("RCPT TO:" + arg)
        if 200 <= r.code < 300:
            # Allowed only if it is really a local address: it must end in a local Maildir.
            marker = f"relay-probe-{tag}-{i}".encode()
            c.expect("354", "DATA")
            c.send(b"Subject: " + marker + b"\r\n\r\n" + marker + b"\r\n.\r\n")
            d = c.reply()
            if d.code == 250:
                self.accepted.append((arg, marker))
                hits = s.find_marker(self.srv.mail_root, marker)
                self.assertEqual(len(hits), 1, f"RCPT TO:{arg} ({what}) accepted: {r.text!r}, "
                                               f"DATA {d.text!r}, stored: {hits}")
                domain = hits[0].relative_to(self.srv.mail_root).parts[0]
                self.assertIn(domain, LOCAL_DOMAINS, f"RCPT TO:{arg} ({what}) stored in {hits}")
        else:
            self.assertGreaterEqual(r.code, 500, f"RCPT TO:{arg} ({what}): want a 5xx, got "
                                                 f"{r.text!r}")
            self.assertRegex(r.last, r"^(550 5\.7\.1|554 5\.7\.1|501 5\.1\.3|501 5\.5\.[24]|"
                                     r"553 5\.1\.[23]|550 5\.1\.1|555 5\.5\.4)",
                             f"RCPT TO:{arg} ({what})")
        spooled = set(self.srv.spool_files("new") + self.srv.spool_files("env")) - before
        self.assertEqual(spooled, set(), f"RCPT TO:{arg} ({what}) reached the relay spool: "
                                         f"{[p.read_bytes()[:300] for p in spooled]}")

    def run_battery(self, connect, tag):
        for i, (arg, what) in enumerate(BATTERY):
            with self.subTest(rcpt=arg, what=what):
                c = connect()
                try:
                    self.probe(c, i, arg, what, tag)
                finally:
                    c.close()
        self.srv.assert_alive()

    def test_1_plaintext(self):
        def connect():
            c = self.srv.client(0)
            c.greet()
            return c
        self.run_battery(connect, "plain")

    def test_2_tls_without_auth(self):
        # TLS alone grants nothing.
        self.run_battery(lambda: s.tls_session(self.srv, 0), "tls")

    def test_3_implicit_tls_without_auth(self):
        self.run_battery(lambda: s.implicit_session(self.srv, 1), "implicit")

    def test_4_after_failed_auth(self):
        c = s.tls_session(self.srv)
        try:
            self.assertEqual(c.auth_plain(ALICE, "wrong").code, 535)
            c.expect("250", "MAIL FROM:<spammer@example.net>")
            c.expect("554 5.7.1", f"RCPT TO:<{FOREIGN}>")
        finally:
            c.close()

    def test_5_many_recipients_in_one_session(self):
        # Refusals must not flip to acceptance later in a session (counters, state).
        c = self.srv.client(0)
        try:
            c.greet()
            c.expect("250", "MAIL FROM:<spammer@example.net>")
            c.expect("250", "RCPT TO:<local@localhost>")
            for n in range(8):
                r = c.cmd(f"RCPT TO:<victim{n}@example.com>")
                self.assertGreaterEqual(r.code, 400, r.text)
                if r.code == 421:
                    break
        finally:
            c.close()

    def test_9_spool_empty_after_battery(self):
        self.assertEqual(self.srv.spool_files("new"), [])
        self.assertEqual(self.srv.spool_files("env"), [])
        # Everything that was stored is in a local domain's Maildir.
        for p in s.all_stored(self.srv.mail_root):
            self.assertIn(p.relative_to(self.srv.mail_root).parts[0], LOCAL_DOMAINS, p)
            self.assertFalse(str(p.resolve()).startswith(str(self.srv.spool.resolve())), p)


class NearMissNetworks(unittest.TestCase):
    """relay networks close to, but not containing, 127.0.0.1."""

    def test_not_in_networks(self):
        srv = s.SecTaube([s.listener("starttls")], relay={
            "networks": ["127.0.0.2/32", "127.0.1.0/24", "10.0.0.0/8", "::1/128"]})
        self.addCleanup(srv.cleanup)
        c = srv.client(0)
        try:
            c.greet()
            c.expect("250", "MAIL FROM:<spammer@example.net>")
            c.expect("554 5.7.1", f"RCPT TO:<{FOREIGN}>")
            c.expect("221", "QUIT")
        finally:
            c.close()
        self.assertEqual(srv.spool_files("env"), [])
        srv.stop()


class NetworkBoundary(unittest.TestCase, SpoolMixin):
    """networks = ["127.0.0.2/32"]: the client 127.0.0.2 may relay, 127.0.0.1 may not."""

    def test_exact_host_network(self):
        self.srv = s.SecTaube([s.listener("starttls")], relay={"networks": ["127.0.0.2/32"]})
        self.addCleanup(self.srv.cleanup)
        c = self.srv.client(0)
        try:
            c.greet()
            c.expect("250", "MAIL FROM:<spammer@example.net>")
            c.expect("554 5.7.1", f"RCPT TO:<{FOREIGN}>")
        finally:
            c.close()
        c = self.srv.client(0, source="127.0.0.2")
        try:
            c.greet()
            c.expect("250", "MAIL FROM:<app@internal.test>")
            c.expect("250", f"RCPT TO:<{FOREIGN}>")
            c.expect("354", "DATA")
            c.send(s.message("app@internal.test", FOREIGN, "boundary") + b".\r\n")
            _, env = self.relayed(h.queued_id(c.reply()))
            self.assertEqual([v for k, v in env if k == "rcpt"], [FOREIGN])
        finally:
            c.close()
        self.srv.stop()


class AuthenticatedRelay(unittest.TestCase, SpoolMixin):
    @classmethod
    def setUpClass(cls):
        cls.srv = s.SecTaube([s.listener("starttls"), s.listener("implicit", submission=True)])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.srv.cleanup()

    def session(self, index=0):
        c = s.tls_session(self.srv, index) if index == 0 else s.implicit_session(self.srv, index)
        self.addCleanup(c.close)
        c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        return c

    def test_relay_foreign(self):
        c = self.session()
        c.expect("250", f"MAIL FROM:<{ALICE}>")
        c.expect("250", f"RCPT TO:<{FOREIGN}>")
        c.expect("354", "DATA")
        c.send(s.message(ALICE, FOREIGN, "auth-relay") + b".\r\n")
        qid = h.queued_id(c.reply())
        msg, env = self.relayed(qid)
        self.assertIn(b"Subject: auth-relay", msg)
        self.assertRegex(msg, rb"with ESMTPSA \(TLSv1\.3 with cipher ")
        self.assertEqual(s.parse_received(msg)["auth"], ALICE)
        self.assertIn(("from", ALICE), env)
        self.assertIn(("rcpt", FOREIGN), env)
        self.assertEqual([v for k, v in env if k == "rcpt"], [FOREIGN], env)
        self.assertIn(("auth", ALICE), env)
        # Not delivered locally.
        self.assertEqual(s.find_marker(self.srv.mail_root, b"auth-relay", 0.2), [])
        self.assert_spool_tmp_clean()

    def test_relay_implicit_submission(self):
        c = self.session(1)
        c.expect("250", "MAIL FROM:<>")
        c.expect("250", "RCPT TO:<Someone@Example.NET>")
        c.expect("354", "DATA")
        c.send(s.message("", "someone@example.net", "auth-relay-465") + b".\r\n")
        _, env = self.relayed(h.queued_id(c.reply()))
        self.assertIn(("from", ""), env)
        self.assertEqual([v for k, v in env if k == "rcpt"], ["Someone@Example.NET"], env)

    def test_mixed_local_and_foreign(self):
        c = self.session()
        c.expect("250", f"MAIL FROM:<{ALICE}>")
        c.expect("250", "RCPT TO:<bob@example.org>")
        c.expect("250", f"RCPT TO:<{FOREIGN}>")
        c.expect("250", "RCPT TO:<local2@localhost>")
        c.expect("354", "DATA")
        c.send(s.message(ALICE, FOREIGN, "mixed-relay") + b".\r\n")
        qid = h.queued_id(c.reply())
        msg, env = self.relayed(qid)
        self.assertEqual([v for k, v in env if k == "rcpt"], [FOREIGN], env)
        self.assertIn(b"Subject: mixed-relay", msg)
        for local in ("bob@example.org", "local2@localhost"):
            got = h.wait_messages(self.srv.maildir(local), 1)
            self.assertEqual(len(got), 1, local)
            self.assertIn(b"Subject: mixed-relay", got[0].read_bytes())
        hits = s.find_marker(self.srv.mail_root, b"mixed-relay")
        self.assertEqual(len(hits), 2, hits)  # only the two local recipients' Maildirs
        self.assert_spool_tmp_clean()

    def test_envelope_dsn_and_no_line_injection(self):
        c = self.session()
        c.expect("250", f"MAIL FROM:<{ALICE}> RET=HDRS ENVID=x+0Arcpt+20evil@example.net")
        c.expect("250", f"RCPT TO:<{FOREIGN}> NOTIFY=SUCCESS,FAILURE "
                        f"ORCPT=rfc822;user+2Bx@example.com")
        c.expect("354", "DATA")
        c.send(s.message(ALICE, FOREIGN, "dsn-relay") + b".\r\n")
        _, env = self.relayed(h.queued_id(c.reply()))
        rcpts = [v for k, v in env if k == "rcpt"]
        self.assertEqual(len(rcpts), 1, env)
        self.assertTrue(rcpts[0].startswith(FOREIGN + " "), rcpts)
        self.assertNotIn("evil@example.net", rcpts[0])

    def test_literal_still_refused_when_authenticated(self):
        # Documented: address literals are never relayed, even for authenticated clients.
        c = self.session()
        c.expect("250", f"MAIL FROM:<{ALICE}>")
        c.expect("554 5.7.1", "RCPT TO:<user@[192.0.2.1]>")


class TrustedNetworks(unittest.TestCase, SpoolMixin):
    @classmethod
    def setUpClass(cls):
        cls.srv = s.SecTaube([s.listener("starttls")], relay={"networks": ["127.0.0.0/8"]})

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.stop()
        finally:
            cls.srv.cleanup()

    def test_unauthenticated_relay_from_network(self):
        c = self.srv.client(0)
        self.addCleanup(c.close)
        c.greet()
        c.expect("250", "MAIL FROM:<app@internal.test>")
        c.expect("250", f"RCPT TO:<{FOREIGN}>")
        c.expect("250", "RCPT TO:<ops@example.org>")
        c.expect("354", "DATA")
        c.send(s.message("app@internal.test", FOREIGN, "network-relay") + b".\r\n")
        qid = h.queued_id(c.reply())
        msg, env = self.relayed(qid)
        self.assertEqual([v for k, v in env if k == "rcpt"], [FOREIGN], env)
        self.assertIn(("from", "app@internal.test"), env)
        self.assertNotIn("auth", [k for k, _ in env])
        self.assertIn(b"Subject: network-relay", msg)
        self.assertEqual(s.parse_received(msg)["with"], "ESMTP")
        self.assertEqual(len(h.wait_messages(self.srv.maildir("ops@example.org"), 1)), 1)
        self.assert_spool_tmp_clean()


if __name__ == "__main__":
    h.main("openssl")

"""`taube sendmail` and the binary called as sendmail / newaliases (docs/sendmail.md), against
the real server: a message on standard input submitted over the local submission socket
([queue] submit_socket) lands in a Maildir with Return-Path, Postfix's pickup-style Received
("from userid N") and the Date, Message-ID and From it lacked; -t takes To/Cc/Bcc (Bcc removed
from every copy, command-line recipients added); -f, -F, -f <>; the "." line with and without
-i/-oi; -bs driven over a pipe; -bp lists mail deferred by a destination answering 451 and -q
flushes it; remote recipients are relayed although no relay network is configured (a TCP client
from 127.0.0.1 is refused the same relay); DSN flags reach the destination; bsd-mailx and s-nail
send through a `sendmail` symlink; an unprivileged user (nobody) submits and the log names its
uid; pflogsumm counts the pickup lines as received; no server -> 75, a bad flag -> 64."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

ALICE, BOB, DAVE = "alice@example.org", "bob@example.org", "dave@example.org"
REMOTE, SLOW = "carol@remote.test", "slow@remote.test"
PICKUP = r"taube/pickup\[\d+\]: "


class Sendmail(unittest.TestCase):
    failing = True  # the destination answers 451 to SLOW while this is set

    @classmethod
    def setUpClass(cls):
        cls.pub = Path(tempfile.mkdtemp(prefix="taube-sendmail-"))
        cls.pub.chmod(0o755)  # an unprivileged user must reach the socket and the config
        port = free_port("127.0.0.2")
        cls.peer = SmtpPeer(port=port, extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                                                   "DSN"),
                            rcpt=lambda addr, n: "451 4.7.1 try later"
                            if cls.failing and addr == SLOW else None)
        # No relay network at all: the local submission's trust alone lets mail out. No retry
        # within the test: only -q makes the deferred mail move.
        cfg = o.config({"remote.test": f"smtp:[127.0.0.2]:{port}"}, relay={"networks": []},
                       queue={"retry_min": 300, "retry_max": 600, "max_lifetime": 3600,
                              "submit_socket": str(cls.pub / "submit.sock"),
                              "control_socket": str(cls.pub / "control.sock")},
                       extra={"log": {"output": str(cls.pub / "taube.log")}})
        cls.srv = h.Taube(cfg, log_file=cls.pub / "taube.log")
        cls.config = cls.pub / "taube.toml"
        shutil.copy(cls.srv.config_path, cls.config)
        cls.config.chmod(0o644)
        bin_dir = cls.pub / "bin"
        bin_dir.mkdir()
        bin_dir.chmod(0o755)
        for name in ("sendmail", "newaliases", "mailq"):
            (bin_dir / name).symlink_to(h.taube_bin())
        cls.symlink = bin_dir / "sendmail"

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.srv.cleanup()
        cls.peer.stop()
        shutil.rmtree(cls.pub, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------------

    def sendmail(self, *args: str, stdin: bytes = b"", prog: list[str] | None = None,
                 env: dict | None = None, config: bool = True) -> subprocess.CompletedProcess:
        cmd = (prog or [h.taube_bin(), "sendmail"]) + (["-C", str(self.config)] if config else [])
        return subprocess.run(cmd + list(args), input=stdin, capture_output=True, timeout=30,
                              cwd=self.pub, env={**os.environ, **(env or {})})

    def delivered(self, address: str, marker: str, timeout: float = 10.0) -> str:
        """The stored message for `address` that contains `marker`."""
        deadline = time.monotonic() + timeout
        while True:
            for p in h.maildir_messages(self.srv.maildir(address)):
                text = p.read_bytes().decode("utf-8", "replace")
                if self.marked(marker).search(self.headers(text)):
                    return text
            if time.monotonic() > deadline:
                self.fail(f"no message with {marker} for {address}\n" + self.diag())
            time.sleep(0.05)

    @staticmethod
    def marked(marker: str) -> re.Pattern:
        """The Subject line ending in `marker` (a whole word: "t-1" is not in "dot-1")."""
        return re.compile(rf"(?m)^Subject: (?:.* )?{re.escape(marker)}\r?$")

    def relayed(self, marker: str, timeout: float = 10.0):
        rx = self.marked(marker)

        def mine(t) -> bool:
            return rx.search((t.data or b"").decode("utf-8", "replace")) is not None
        self.assertTrue(self.peer.wait(lambda p: any(mine(t) for t in p.messages()), timeout),
                        self.diag())
        return next(t for t in self.peer.messages() if mine(t))

    def diag(self) -> str:
        return o.diag(self.srv, self.peer)

    @staticmethod
    def headers(text: str) -> str:
        return text.split("\n\n", 1)[0]

    def assert_ok(self, r: subprocess.CompletedProcess):
        self.assertEqual(r.returncode, 0, f"stdout={r.stdout!r} stderr={r.stderr!r}\n{self.diag()}")

    # -- submission --------------------------------------------------------------------------

    def test_plain_submission_gets_trace_and_missing_headers(self):
        mark = len(self.srv.lines())
        r = self.sendmail(ALICE, stdin=b"Subject: plain-1\n\nfirst line\nsecond line\n")
        self.assert_ok(r)
        self.assertEqual((r.stdout, r.stderr), (b"", b""))  # quiet on success, as Postfix
        text = self.delivered(ALICE, "plain-1")
        m = re.match(r"Return-Path: <root@localhost>\nReceived: by mx\.test \(Taube, from userid 0\)"
                     r"\n\tid (?P<qid>[0-9A-F]{16})\n\tfor <alice@example\.org>; \w{3}, ", text)
        self.assertIsNotNone(m, text)
        head = self.headers(text)
        self.assertRegex(head, r"\nFrom: root <root@localhost>\n")
        self.assertRegex(head, r"\nDate: \w{3}, \d{2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\n")
        self.assertRegex(head, r"\nMessage-ID: <\d{14}\.[0-9A-F]{16}@mx\.test>\n")
        self.assertRegex(head, r"\nTo: undisclosed-recipients:;$")
        self.assertTrue(text.endswith("\n\nfirst line\nsecond line\n"), text)
        # Postfix's pickup line, then qmgr's and the delivery (pflogsumm counts pickup's uid=).
        qid = re.escape(m.group("qid"))
        self.assertIsNotNone(self.srv.wait_log(PICKUP + qid + r": uid=0 from=<root@localhost>$"))
        self.assertIsNotNone(self.srv.wait_log(r"taube/qmgr\[\d+\]: " + qid +
                                               r": from=<root@localhost>, size=\d+, nrcpt=1"))
        # No smtpd connect/disconnect lines for a local submission.
        self.assertFalse([l for l in self.srv.lines()[mark:] if "taube/smtpd" in l])

    def test_t_takes_to_cc_bcc_removes_bcc_and_adds_the_command_line(self):
        msg = (f"From: Alice <{ALICE}>\nTo: Alice <{ALICE}>,\n\t(the boss)\nCc: team: Bob <{BOB}>;"
               f"\nBcc: {REMOTE}\nSubject: t-1\n\nbody\n").encode()
        r = self.sendmail("-t", "-i", DAVE, stdin=msg)
        self.assert_ok(r)
        for rcpt in (ALICE, BOB, DAVE):
            head = self.headers(self.delivered(rcpt, "t-1"))
            self.assertNotIn("Bcc", head)
            self.assertNotIn(REMOTE, head)
            self.assertIn(f"From: Alice <{ALICE}>", head)
        t = self.relayed("t-1")
        self.assertEqual(t.rcpt_addrs(), [REMOTE])
        self.assertNotIn(b"Bcc", t.data)
        # The wire form is CRLF throughout although the input had bare LFs.
        self.assertNotIn(b"\n", t.data.replace(b"\r\n", b""))
        self.assertIn(b"\r\nSubject: t-1\r\n", t.data)

    def test_f_sets_the_sender_and_F_the_full_name(self):
        r = self.sendmail("-f", "sender@example.org", "-F", "Test User", ALICE,
                          stdin=b"Subject: f-1\n\nx\n")
        self.assert_ok(r)
        text = self.delivered(ALICE, "f-1")
        self.assertTrue(text.startswith("Return-Path: <sender@example.org>\n"), text)
        self.assertIn("\nFrom: Test User <sender@example.org>\n", self.headers(text))
        # -f <> is the null sender; From is then the user.
        r = self.sendmail("-f", "<>", "-r", "", ALICE, stdin=b"Subject: f-2\n\nx\n")
        self.assert_ok(r)
        text = self.delivered(ALICE, "f-2")
        self.assertTrue(text.startswith("Return-Path: <>\n"), text)
        self.assertIn("\nFrom: root <root@localhost>\n", self.headers(text))
        # A sender without a domain gets the origin (the first local domain).
        self.assert_ok(self.sendmail("-fdaemon", ALICE, stdin=b"Subject: f-3\n\nx\n"))
        self.assertTrue(self.delivered(ALICE, "f-3").startswith("Return-Path: <daemon@localhost>"))

    def test_crons_command_line(self):
        # Debian's cron: sendmail -FCronDaemon -i -B8BITMIME -oem root, with its own headers.
        msg = ("From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts "
               "cron-1\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
               "Content-Transfer-Encoding: 8bit\n\nr\u00e9sultat\n").encode()
        r = self.sendmail("-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", stdin=msg)
        self.assert_ok(r)
        text = self.delivered("root@localhost", "cron-1")
        self.assertIn("\nFrom: root (Cron Daemon)\n", self.headers(text))  # its From is kept
        self.assertTrue(text.endswith("\n\nr\u00e9sultat\n"), text)

    def test_a_dot_line_ends_the_input_unless_i(self):
        body = b"Subject: %s\n\nbefore\n.\nafter\n"
        self.assert_ok(self.sendmail(ALICE, stdin=body % b"dot-1"))
        text = self.delivered(ALICE, "dot-1")
        self.assertTrue(text.endswith("\n\nbefore\n"), text)
        for flag, marker in (("-i", b"dot-2"), ("-oi", b"dot-3")):
            self.assert_ok(self.sendmail(flag, ALICE, stdin=body % marker))
            text = self.delivered(ALICE, marker.decode())
            self.assertTrue(text.endswith("\n\nbefore\n.\nafter\n"), text)

    def test_bs_is_an_smtp_session_on_stdin_and_stdout(self):
        p = subprocess.Popen([h.taube_bin(), "sendmail", "-C", str(self.config), "-bs"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=self.pub)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.kill)

        def reply() -> str:
            lines = []
            while True:
                line = p.stdout.readline().decode()
                self.assertTrue(line, f"session ended early after {lines}")
                lines.append(line)
                if re.match(r"\d{3} ", line):
                    return "".join(lines)

        def say(line: str) -> str:
            p.stdin.write(line.encode() + b"\r\n")
            p.stdin.flush()
            return reply()

        self.assertRegex(reply(), r"^220 mx\.test ESMTP")
        self.assertIn("250-PIPELINING", say("EHLO client.local"))
        self.assertTrue(say(f"MAIL FROM:<{BOB}>").startswith("250 "))
        self.assertTrue(say(f"RCPT TO:<{ALICE}>").startswith("250 "))
        # Relaying is allowed on the local socket.
        self.assertTrue(say(f"RCPT TO:<{REMOTE}>").startswith("250 "))
        self.assertTrue(say("DATA").startswith("354 "))
        p.stdin.write(b"Subject: bs-1\r\n\r\nbs body\r\n")
        final = say(".")
        self.assertRegex(final, r"^250 2\.0\.0 Ok: queued as [0-9A-F]{16}")
        self.assertTrue(say("QUIT").startswith("221 "))
        p.stdin.close()
        self.assertEqual(p.wait(10), 0)
        text = self.delivered(ALICE, "bs-1")
        self.assertTrue(text.startswith(f"Return-Path: <{BOB}>\nReceived: by mx.test "
                                        "(Taube, from userid 0)"), text)
        self.assertEqual(self.relayed("bs-1").rcpt_addrs(), [REMOTE])

    def test_remote_mail_is_relayed_but_not_for_a_tcp_client(self):
        r = self.sendmail("-v", REMOTE, stdin=b"Subject: relay-1\n\nto the world\n")
        self.assert_ok(r)
        out = r.stdout.decode()
        self.assertIn(f"C: RCPT TO:<{REMOTE}>", out)
        self.assertIn("S: 250 2.0.0 Ok: queued as", out)
        t = self.relayed("relay-1")
        self.assertEqual(t.mail_from, "root@localhost")
        self.assertTrue(t.data.startswith(b"Received: by mx.test (Taube, from userid 0)\r\n"),
                        t.data[:200])
        self.assertIsNotNone(self.srv.wait_log(o.status_rx(REMOTE, "sent"), 10), self.diag())
        # The same relay from 127.0.0.1 over TCP: no relay network, no AUTH, refused.
        with self.srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<root@localhost>")
            self.assertEqual(c.cmd(f"RCPT TO:<{REMOTE}>").code, 554)

    def test_dsn_flags_reach_the_destination(self):
        r = self.sendmail("-N", "success,failure", "-R", "hdrs", "-V", "env-42", "-B", "8BITMIME",
                          REMOTE, stdin=b"Subject: dsn-1\n\nx\n")
        self.assert_ok(r)
        t = self.relayed("dsn-1")
        self.assertEqual(t.mail_params.get("RET"), "HDRS", t.mail_params)
        self.assertEqual(t.mail_params.get("ENVID"), "env-42", t.mail_params)
        self.assertEqual(t.mail_params.get("BODY"), "8BITMIME", t.mail_params)
        self.assertEqual(t.rcpt_params(REMOTE).get("NOTIFY"), "SUCCESS,FAILURE")

    def test_bp_lists_deferred_mail_and_q_flushes_it(self):
        r = self.sendmail(SLOW, stdin=b"Subject: slow-1\n\nwait for it\n")
        self.assert_ok(r)
        line = self.srv.wait_log(o.status_rx(SLOW, "deferred"), 10)
        self.assertIsNotNone(line, self.diag())
        qid = re.search(r"([0-9A-F]{16}): to=", line.string).group(1)
        self.assertTrue(o.wait_queue_holding(self.srv, b"slow-1"), self.diag())
        deadline = time.monotonic() + 10
        while True:  # the attempt's state is written just after its log line
            listing = self.sendmail("-bp")
            if listing.returncode == 0 and re.search(qid.encode() + rb" ", listing.stdout):
                break
            self.assertLess(time.monotonic(), deadline, listing)
            time.sleep(0.05)
        out = listing.stdout.decode()
        self.assertTrue(out.startswith("-Queue ID-"), out)
        # mailq (the same program under that name) says the same, with $TAUBE_CONFIG.
        mailq = subprocess.run([str(self.pub / "bin" / "mailq")], capture_output=True,
                               timeout=30, env={**os.environ, "TAUBE_CONFIG": str(self.config)})
        self.assertEqual(mailq.returncode, 0, mailq)
        self.assertIn(qid.encode(), mailq.stdout)
        self.assertRegex(out, re.escape(qid) + r" +\d+ .* root@localhost\n")
        self.assertIn("(451 4.7.1 try later)", out)
        self.assertIn(SLOW, out)
        type(self).failing = False
        try:
            self.assert_ok(self.sendmail("-q"))
            # retry_min is 300 s: only the flush delivers it this soon.
            self.assertIsNotNone(self.srv.wait_log(o.status_rx(SLOW, "sent", qid), 15),
                                 self.diag())
        finally:
            type(self).failing = True
        self.assertEqual(self.relayed("slow-1").rcpt_addrs(), [SLOW])

    # -- the program's names and real clients --------------------------------------------------

    def test_called_as_sendmail_and_newaliases(self):
        env = {"TAUBE_CONFIG": str(self.config)}
        r = self.sendmail(ALICE, stdin=b"Subject: link-1\n\nvia the symlink\n",
                          prog=[str(self.symlink)], env=env, config=False)
        self.assert_ok(r)
        self.delivered(ALICE, "link-1")
        # -C wins over TAUBE_CONFIG.
        r = self.sendmail(ALICE, stdin=b"Subject: link-2\n\nx\n", prog=[str(self.symlink)],
                          env={"TAUBE_CONFIG": "/nonexistent.toml"})
        self.assert_ok(r)
        self.delivered(ALICE, "link-2")
        na = subprocess.run([str(self.pub / "bin" / "newaliases")], capture_output=True,
                            timeout=30, env={**os.environ, **env})
        self.assertEqual((na.returncode, na.stdout, na.stderr), (0, b"", b""))
        na = subprocess.run([str(self.pub / "bin" / "newaliases"), "-v"], capture_output=True,
                            timeout=30, env={**os.environ, **env})
        self.assertEqual(na.returncode, 0)
        self.assertIn(b"nothing to rebuild", na.stdout)

    def mail_client(self, cmd: list[str], marker: str) -> str:
        home = Path(tempfile.mkdtemp(prefix="taube-mailx-"))
        self.addCleanup(shutil.rmtree, home, True)
        (home / "mailrc").write_text(f"set sendmail={self.symlink}\n")
        env = {**os.environ, "HOME": str(home), "MAILRC": str(home / "mailrc"),
               "TAUBE_CONFIG": str(self.config)}
        r = subprocess.run(cmd + ["-s", f"subject {marker}", ALICE], input=b"hello from mail(1)\n",
                           capture_output=True, timeout=30, env=env, cwd=home)
        self.assertEqual(r.returncode, 0, r)
        text = self.delivered(ALICE, f"subject {marker}")
        self.assertIn("\nhello from mail(1)\n", text)
        self.assertRegex(self.headers(text), r"\nMessage-ID: <[^>]+>")
        return text

    def test_bsd_mailx(self):
        if shutil.which("bsd-mailx") is None:
            self.skipTest("bsd-mailx is not installed")
        self.mail_client(["bsd-mailx"], "mailx-1")

    def test_s_nail(self):
        if shutil.which("s-nail") is None:
            self.skipTest("s-nail is not installed")
        text = self.mail_client(["s-nail", "-S", f"mta={self.symlink}"], "snail-1")
        self.assertIn("User-Agent: s-nail", text)

    def test_an_unprivileged_user_submits_and_is_logged_by_uid(self):
        if os.geteuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("needs root and setpriv to run as nobody")
        r = self.sendmail(ALICE, stdin=b"Subject: nobody-1\n\nfrom nobody\n",
                          prog=["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                h.taube_bin(), "sendmail"])
        self.assert_ok(r)
        text = self.delivered(ALICE, "nobody-1")
        self.assertTrue(text.startswith("Return-Path: <nobody@localhost>\nReceived: by mx.test "
                                        "(Taube, from userid 65534)"), text)
        self.assertIsNotNone(self.srv.wait_log(PICKUP + r"[0-9A-F]{16}: uid=65534 "
                                               r"from=<nobody@localhost>$"), self.diag())

    def test_a_reload_reaches_local_submissions(self):
        # A new alias, validated by newaliases, in force after SIGHUP for the next submission.
        text = self.srv.config_path.read_text()
        self.assertIn("[aliases]\n", text)
        self.srv.config_path.write_text(text.replace(
            "[aliases]\n", '[aliases]\n"crew@example.org" = ["dave@example.org"]\n', 1))
        na = subprocess.run([h.taube_bin(), "sendmail", "-bi", "-C", str(self.srv.config_path)],
                            capture_output=True, timeout=30)
        self.assertEqual((na.returncode, na.stderr), (0, b""))
        mark = len(self.srv.lines())
        os.kill(self.srv.proc.pid, signal.SIGHUP)
        self.assertIsNotNone(self.srv.wait_log(r"reloaded the configuration", 10, start=mark),
                             self.diag())
        r = self.sendmail("-C", str(self.srv.config_path), "crew@example.org",
                          stdin=b"Subject: reload-1\n\nx\n", config=False)
        self.assert_ok(r)
        self.assertIn("Received: by mx.test (Taube, from userid 0)",
                      self.delivered(DAVE, "reload-1"))

    def test_pflogsumm_counts_local_submissions_as_received(self):
        if shutil.which("pflogsumm") is None:
            self.skipTest("pflogsumm is not installed")
        for i in range(3):
            self.assert_ok(self.sendmail(ALICE, stdin=b"Subject: sum-%d\n\nx\n" % i))
            self.delivered(ALICE, f"sum-{i}")
        picked = sum(1 for l in self.srv.lines() if re.search(PICKUP + r"[0-9A-F]{16}: uid=", l))
        self.assertGreaterEqual(picked, 3)
        r = subprocess.run(["pflogsumm", "--syslog-name=taube", str(self.pub / "taube.log")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        received = re.search(r"(?m)^\s*(\d+)\s+received$", r.stdout)
        self.assertIsNotNone(received, r.stdout[:2000])
        # Every pickup line is a received message, and all mail of this server came that way.
        self.assertEqual(int(received.group(1)), picked, r.stdout[:2000])

    def test_the_servers_connection_limit_counts_local_sessions(self):
        srv = h.Taube({"limits": {"max_connections": 1}})
        self.addCleanup(srv.cleanup)

        def submit(marker: str) -> subprocess.CompletedProcess:
            return subprocess.run([h.taube_bin(), "sendmail", "-C", str(srv.config_path),
                                   "alice@localhost"], input=f"Subject: {marker}\n\nx\n".encode(),
                                  capture_output=True, timeout=30, cwd=srv.dir)
        with srv.client() as c:
            c.greet()  # the one connection allowed
            r = submit("limit-1")
            self.assertEqual(r.returncode, 75, r)
            self.assertIn(b"421", r.stderr)
        self.assertIsNotNone(srv.wait_log(r"too many connections \(local submission\)"))
        deadline = time.monotonic() + 10
        while (r := submit("limit-2")).returncode != 0:  # the TCP session's slot is released
            self.assertLess(time.monotonic(), deadline, r)
            time.sleep(0.05)
        self.assertEqual(srv.stop(), 0)

    def test_an_unknown_user_is_ex_nouser(self):
        srv = h.Taube({"users": {"alice@localhost": ""}, "aliases": None})
        self.addCleanup(srv.cleanup)
        r = subprocess.run([h.taube_bin(), "sendmail", "-C", str(srv.config_path), "nosuch",
                            "alice"], input=b"Subject: nouser-1\n\nx\n", capture_output=True,
                           timeout=30, cwd=srv.dir)
        self.assertEqual(r.returncode, 67, r)
        self.assertRegex(r.stderr, rb"sendmail: <nosuch@localhost>: 550 5\.1\.1 ")
        self.assertTrue(h.wait_messages(srv.maildir("alice@localhost"), 1), srv.log_text())
        self.assertEqual(srv.stop(), 0)

    # -- errors --------------------------------------------------------------------------------

    def test_exit_codes(self):
        r = self.sendmail("-z", ALICE)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"invalid option -- 'z'", r.stderr)
        self.assertIn(b"usage: sendmail", r.stderr)
        self.assertEqual(self.sendmail(stdin=b"Subject: x\n\nx\n").returncode, 64)
        r = self.sendmail("-t", stdin=b"Subject: no-rcpt\n\nx\n")
        self.assertEqual(r.returncode, 65)
        self.assertIn(b"no recipient addresses found", r.stderr)
        # A recipient the server refuses (never relayed to an address literal, RFC 5321 §4.1.3):
        # EX_UNAVAILABLE, the reply on stderr, and pickup's reject line naming the uid; the
        # other recipient still gets the message.
        r = self.sendmail("user@[192.0.2.1]", ALICE, stdin=b"Subject: refused-1\n\nx\n")
        self.assertEqual(r.returncode, 69, r)
        self.assertRegex(r.stderr, rb"sendmail: <user@\[192\.0\.2\.1\]>: 554 5\.7\.1 ")
        self.assertIsNotNone(self.srv.wait_log(
            PICKUP + r"NOQUEUE: reject: RCPT from uid=0: 554 5\.7\.1 .*"
            r"to=<user@\[192\.0\.2\.1\]>"), self.diag())
        self.delivered(ALICE, "refused-1")
        # No server at the configured socket: EX_TEMPFAIL with a clear message.
        gone = Path(tempfile.mkdtemp(prefix="taube-nosrv-"))
        self.addCleanup(shutil.rmtree, gone, True)
        cfg = gone / "taube.toml"
        cfg.write_text(f'[queue]\nsubmit_socket = "{gone}/submit.sock"\n')
        r = subprocess.run([h.taube_bin(), "sendmail", "-C", str(cfg), ALICE],
                           input=b"Subject: x\n\nx\n", capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 75, r)
        self.assertIn(b"not reachable", r.stderr)
        self.assertIn(str(gone / "submit.sock").encode(), r.stderr)
        r = subprocess.run([h.taube_bin(), "sendmail", "-C", str(gone / "missing.toml"), ALICE],
                           input=b"x\n", capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 78, r)


if __name__ == "__main__":
    h.main()

"""The taube command line: --version, --help, check-config, overrides, and graceful SIGTERM."""

import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402


def run(*args: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run([h.taube_bin(), *args], capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def out(p: subprocess.CompletedProcess) -> str:
    return (p.stdout + p.stderr).decode(errors="replace")


GOOD = """\
# A complete configuration using every documented key.
hostname = "mx.test"

[[listener]]
address = "127.0.0.1"
port = 0

[delivery]
mail_root = "/tmp/taube-cli-unused/mail"
domains = ["localhost", "example.org"]
catch_all = "postmaster@example.org"

[users]
"alice@example.org" = ""
"bob@example.org" = "/tmp/taube-cli-unused/bob-maildir"
"postmaster@example.org" = ""

[aliases]
"info@example.org" = ["alice@example.org", "bob@example.org"]
"sales@example.org" = ["alice@example.org"]

[limits]
max_message_size = 10485760
max_recipients = 100
max_errors = 20
max_connections = 1000
max_connections_per_ip = 100
reject_long_lines = false
command_timeout = 300
data_timeout = 600.5

[smtp]
bare_newline = "reject"
bare_newline_exempt = ["10.0.0.0/8"]
vrfy = "cannot-verify"
expn = false
etrn = false
"""


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="taube-cli-"))

    def tearDown(self):
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name: str, text: str) -> Path:
        p = self.dir / name
        p.write_text(text)
        return p

    def test_version(self):
        p = run("--version")
        self.assertEqual(p.returncode, 0, out(p))
        self.assertRegex(out(p), r"(?i)taube.*\d+\.\d+")

    def test_help(self):
        p = run("--help")
        self.assertEqual(p.returncode, 0, out(p))
        for word in ("serve", "check-config", "--version"):
            self.assertIn(word, out(p))
        p = run("serve", "--help")
        self.assertEqual(p.returncode, 0, out(p))
        for word in ("--config", "--listen", "--mail-root", "--domain", "--hostname"):
            self.assertIn(word, out(p))

    def test_unknown_option_fails(self):
        p = run("serve", "--no-such-option")
        self.assertNotEqual(p.returncode, 0, out(p))
        self.assertIn("--no-such-option", out(p))

    def test_check_config_good(self):
        p = run("check-config", str(self.write("good.toml", GOOD)))
        self.assertEqual(p.returncode, 0, out(p))

    def bad(self, name: str, text: str, key: str):
        f = self.write(name, text)
        line = next(i for i, l in enumerate(text.splitlines(), 1) if key in l)
        p = run("check-config", str(f))
        msg = out(p)
        self.assertNotEqual(p.returncode, 0, f"{name} accepted: {msg}")
        self.assertIn(key, msg, f"message must name the key {key!r}")
        self.assertRegex(msg, rf"(?i)(line\s*{line}\b|:{line}\b)",
                         f"message must name line {line}: {msg!r}")
        # serve refuses the same file without starting to listen.
        p = run("serve", "--config", str(f))
        self.assertNotEqual(p.returncode, 0, out(p))
        self.assertNotIn("listening on", out(p))

    def test_check_config_unknown_top_level_key(self):
        self.bad("unknown.toml", GOOD.replace('hostname = "mx.test"\n',
                                              'hostname = "mx.test"\nhostnmae = "x"\n'),
                 "hostnmae")

    def test_check_config_unknown_key_in_table(self):
        self.bad("unknown2.toml", GOOD.replace("max_errors = 20\n",
                                               "max_errors = 20\nmax_eror = 3\n"), "max_eror")

    def test_check_config_wrong_type(self):
        self.bad("type.toml", GOOD.replace("max_recipients = 100", 'max_recipients = "many"'),
                 "max_recipients")

    def test_check_config_bad_bare_newline(self):
        self.bad("bn.toml", GOOD.replace('bare_newline = "reject"',
                                         'bare_newline = "sometimes"'), "bare_newline")

    def test_check_config_bad_vrfy(self):
        self.bad("vrfy.toml", GOOD.replace('vrfy = "cannot-verify"', 'vrfy = "maybe"'), "vrfy")

    def test_check_config_missing_file(self):
        p = run("check-config", str(self.dir / "nope.toml"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope.toml", out(p))

    def test_check_config_toml_syntax_error(self):
        f = self.write("syntax.toml", 'hostname = "mx.test"\n[limits\nmax_errors = 3\n')
        p = run("check-config", str(f))
        self.assertNotEqual(p.returncode, 0)
        self.assertRegex(out(p), r"(?i)(line\s*2\b|:2\b)", out(p))


class CommandLineOverrides(unittest.TestCase):
    def test_listen_mail_root_hostname_domain_override_config(self):
        # The config's port is held by us, so only --listen can make the server start.
        blocker = socket.socket()
        blocker.bind((h.HOST, 0))
        blocker.listen(1)
        busy = blocker.getsockname()[1]
        root = Path(tempfile.mkdtemp(prefix="taube-cli-root-"))
        try:
            srv = h.Taube({"listener": [{"address": h.HOST, "port": busy}]},
                          args=["--listen", "127.0.0.1:0", "--mail-root", str(root / "m"),
                                "--hostname", "cli.test", "--domain", "override.test",
                                "--domain", "example.org"])
            try:
                self.assertNotEqual(srv.port, busy)
                with srv.client() as c:
                    g = c.expect("220 ")
                    self.assertTrue(g.last.startswith("220 cli.test ESMTP"), g.text)
                    c.expect("250", "EHLO c.test")
                    body = b"Subject: override\r\n\r\nx\r\n"
                    c.send_message("a@override.test", ["u@override.test"], body)
                msgs = h.wait_messages(root / "m" / "override.test" / "u", 1)
                self.assertEqual(len(msgs), 1, f"nothing under --mail-root {root}")
                self.assertEqual(h.read_stored(msgs[0]).r["by"], "cli.test")
                self.assertFalse(srv.mail_root.exists(), "config mail_root must be overridden")
                srv.stop()
            finally:
                srv.cleanup()
        finally:
            blocker.close()
            import shutil
            shutil.rmtree(root, ignore_errors=True)


class Startup(unittest.TestCase):
    def test_open_files_soft_limit_is_raised_to_the_hard_limit(self):
        """Connections and journalled messages each hold a descriptor: a soft limit of 1024
        (systemd's default) would cap the server far below max_connections."""
        old = resource.getrlimit(resource.RLIMIT_NOFILE)
        hard = old[1]
        if hard != resource.RLIM_INFINITY and hard <= 256:
            self.skipTest(f"hard limit {hard} leaves nothing to raise")
        # The child inherits a low soft limit from us.
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        try:
            srv = h.Taube()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, old)
        self.addCleanup(srv.cleanup)
        limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
        line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
        soft, hard_seen = line.split()[3:5]
        self.assertEqual(soft, hard_seen, line)
        self.assertEqual(srv.stop(), 0)


class Shutdown(unittest.TestCase):
    def test_sigterm_finishes_transaction_in_flight(self):
        srv = h.Taube()
        try:
            c = srv.client()
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            c.expect("250", "RCPT TO:<inflight@localhost>")
            c.expect("354", "DATA")
            part1 = b"Subject: in flight\r\n\r\nfirst half\r\n"
            part2 = b"second half\r\n"
            c.send(part1)
            time.sleep(0.2)
            srv.terminate()
            time.sleep(0.5)
            self.assertIsNone(srv.proc.poll(), "exited with a transaction in flight")
            # New connections: refused, or told 421.
            try:
                with socket.create_connection((h.HOST, srv.port), timeout=3) as s2:
                    s2.settimeout(3)
                    try:
                        data = s2.recv(512)
                    except ConnectionResetError:
                        data = b""
                    except socket.timeout:
                        self.fail("new connection after SIGTERM accepted but left hanging")
                    self.assertTrue(data == b"" or data.startswith(b"421"),
                                    f"new connection after SIGTERM got {data!r}")
            except ConnectionRefusedError:
                pass
            c.send(part2 + b".\r\n")
            qid = h.queued_id(c.reply())
            try:
                r = c.cmd("QUIT")
                self.assertIn(r.code, (221, 421), r.text)
            except (h.ConnectionClosed, BrokenPipeError, ConnectionResetError):
                pass
            c.close()
            rc = srv.wait_exit(15)
            self.assertEqual(rc, 0, srv.log_text())
            msgs = h.maildir_messages(srv.maildir("inflight@localhost"))
            self.assertEqual(len(msgs), 1)
            st = h.read_stored(msgs[0])
            self.assertEqual(st.queue_id, qid)
            self.assertEqual(st.content, h.wire_to_stored(part1 + part2))
            self.assertEqual(h.tmp_leftovers(srv.mail_root), [])
        finally:
            srv.cleanup()

    def test_sigterm_idle_connection_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(sig=sig.name):
                srv = h.Taube()
                try:
                    c = srv.client()
                    c.greet()  # idle session, no transaction
                    srv.proc.send_signal(sig)
                    rc = srv.wait_exit(15)
                    self.assertEqual(rc, 0, srv.log_text())
                    c.close()
                finally:
                    srv.cleanup()


if __name__ == "__main__":
    h.main()

"""`[aliases] file`: an /etc/aliases-format file as a source of aliases besides the TOML table
(policy/aliases_file.hpp). Mail to a name from the file reaches its targets' Maildirs (a bare
name in every local domain, continuation and comment lines, an owner- list); a file with a
`|command` target, or a name that is also in the TOML table, is refused at start and by
check-config with the file and line named."""

import smtplib
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest.maildir import wait_messages  # noqa: E402

ALIASES = """\
# Aliases for the test domains (aliases(5) format).
postmaster: alice

staff: alice,
# bob is in the staff too
       bob@example.org
"Team Lead": bob
owner-staff: alice
"""


class AliasesFile(unittest.TestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="taube-aliases-"))
        self.addCleanup(lambda: __import__("shutil").rmtree(self.dir, ignore_errors=True))

    def config(self, aliases_text: str, table: dict | None = None) -> dict:
        path = self.dir / "aliases"
        path.write_text(aliases_text)
        aliases = {"file": str(path)}
        aliases.update(table or {})
        return {"users": {"alice@example.org": "", "bob@example.org": "",
                          "alice@localhost": "", "bob@localhost": ""},
                "aliases": aliases}

    def test_delivery_through_file_aliases(self):
        srv = h.Taube(self.config(ALIASES))
        self.addCleanup(srv.cleanup)
        # base_config's TOML aliases (info@, sales@) must not collide with the file's names.
        try:
            with smtplib.SMTP(h.HOST, srv.port, timeout=10) as c:
                c.sendmail("x@remote.test", ["staff@example.org"],
                           b"Subject: to staff\r\n\r\nhello staff\r\n")
                c.sendmail("x@remote.test", ['"Team Lead"@localhost'],
                           b"Subject: to the lead\r\n\r\nhello lead\r\n")
                c.sendmail("x@remote.test", ["owner-staff@example.org"],
                           b"Subject: to the owner\r\n\r\nhello owner\r\n")
                c.sendmail("x@remote.test", ["postmaster@localhost"],
                           b"Subject: to postmaster\r\n\r\nhello pm\r\n")
                self.assertEqual(c.mail("x@remote.test")[0], 250)
                self.assertEqual(c.rcpt("nobody@example.org")[0], 550)
            alice = wait_messages(srv.maildir("alice@example.org"), 2)
            bob = wait_messages(srv.maildir("bob@example.org"), 1)
            lead = wait_messages(srv.maildir("bob@localhost"), 1)
            pm = wait_messages(srv.maildir("alice@localhost"), 1)
            subjects = sorted(b"to staff" in f.read_bytes() or b"to the owner" in f.read_bytes()
                              for f in alice)
            self.assertEqual(subjects, [True, True])
            self.assertIn(b"hello staff", bob[0].read_bytes())
            self.assertIn(b"hello lead", lead[0].read_bytes())
            self.assertIn(b"hello pm", pm[0].read_bytes())
        finally:
            srv.stop()

    def test_refused_targets_name_the_file_and_line(self):
        bad = "root: alice\nlog: alice,\n  |/usr/bin/logger\n"
        cfg = self.config(bad)
        cfg_path = self.dir / "taube.toml"
        cfg_path.write_text(h.to_toml(h.merge(h.base_config(self.dir / "mail"), cfg)))
        p = subprocess.run([h.taube_bin(), "check-config", str(cfg_path)], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 1, p)
        err = p.stderr.decode()
        self.assertIn(f"{self.dir / 'aliases'}:3: \"|/usr/bin/logger\": delivery to a command is "
                      "not supported", err)
        p = subprocess.run([h.taube_bin(), "serve", "--config", str(cfg_path)],
                           capture_output=True, timeout=10)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("delivery to a command is not supported", p.stderr.decode())

    def test_errors_found_later_name_the_line_too(self):
        for text, want in [
            ("a: alice\nsales: bob\n", r'aliases:2: alias "sales@example\.org" is also in the '
                                       r"\[aliases\] table"),
            # A bare name is in every local domain: whichever the directory checks first.
            ("\nx: nobody\n", r'aliases:2: aliases\."x@([a-z.]+)": target "nobody@\1" '
                              r"is not a known user"),
        ]:
            cfg_path = self.dir / "taube.toml"
            cfg_path.write_text(h.to_toml(h.merge(h.base_config(self.dir / "mail"),
                                                  self.config(text))))
            p = subprocess.run([h.taube_bin(), "check-config", str(cfg_path)],
                               capture_output=True, timeout=10)
            self.assertEqual(p.returncode, 1, p)
            self.assertRegex(p.stderr.decode(), want)

    def test_missing_file(self):
        cfg_path = self.dir / "taube.toml"
        cfg = h.merge(h.base_config(self.dir / "mail"), {"aliases": {"file": "/nonexistent/al"}})
        cfg_path.write_text(h.to_toml(cfg))
        p = subprocess.run([h.taube_bin(), "check-config", str(cfg_path)], capture_output=True,
                           timeout=10)
        self.assertEqual(p.returncode, 1, p)
        self.assertRegex(p.stderr.decode(),
                         r"taube\.toml:\d+: aliases\.file: cannot read /nonexistent/al: No such")


if __name__ == "__main__":
    h.main()

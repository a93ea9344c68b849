"""`taube check-config` on the outbound configuration contract: every documented key of [relay]
(smarthost), [queue], [outbound], [dns] and [transport] is accepted with the documented values,
and a bad value is refused with a message naming its key (as for every other section)."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

BASE = """\
hostname = "mx.test"

[[listener]]
address = "127.0.0.1"
port = 0

[delivery]
mail_root = "{dir}/mail"
domains = ["example.org"]
"""

FULL = BASE + """
[relay]
networks = ["127.0.0.0/8"]
smarthost = "{smarthost}"
smarthost_tls = "{smarthost_tls}"
smarthost_auth_file = "{auth}"

[queue]
path = "{dir}/queue"
retry_min = 300
retry_max = 4000
max_lifetime = 432000
delay_warning = 14400
max_connections = 100
per_destination = 20

[outbound]
tls = "{tls}"
port = 25
helo_name = "{helo}"

{dns_section}
[transport]
"remote.test" = "{route}"
"other.test" = "smtp:mail.other.test:2525"
"mxrouted.test" = "mx"
"""

GOOD = {"smarthost": "", "smarthost_tls": "starttls", "auth": "", "tls": "opportunistic",
        "helo": "", "route": "smtp:[127.0.0.2]:2526", "dns_section": ""}
DNS = '[dns]\nservers = ["127.0.0.1:5353"]\n'  # a subtest of its own: its failure masks no other


class CheckConfig(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="taube-outcfg-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = Path(self.tmp.name)
        self.auth = self.dir / "auth"
        self.auth.write_text("user:secret\n")
        self.auth.chmod(0o600)

    def check(self, **over) -> tuple[int, str]:
        values = dict(GOOD, dir=self.dir, **over)
        f = self.dir / "taube.toml"
        f.write_text(FULL.format(**values))
        p = subprocess.run([h.taube_bin(), "check-config", str(f)], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        return p.returncode, (p.stdout + p.stderr).decode(errors="replace")

    def test_documented_keys_and_values_accepted(self):
        cases = [{}]
        cases += [{"tls": t} for t in ("none", "opportunistic", "required")]
        cases += [{"smarthost": "relay.example.net:587", "smarthost_tls": t,
                   "auth": str(self.auth)} for t in ("starttls", "required", "implicit")]
        cases += [{"smarthost": "[192.0.2.1]:25", "smarthost_tls": "none"}]
        cases += [{"helo": "out.example.net"}]
        cases += [{"dns_section": DNS}, {"dns_section": "[dns]\nservers = []\n"}]
        cases += [{"route": r} for r in ("smtp:[127.0.0.2]:2526", "smtp:host.test:25", "mx",
                                         "local")]
        cases += [{"route": "smarthost", "smarthost": "relay.example.net:25"}]
        for c in cases:
            with self.subTest(**c):
                rc, out = self.check(**c)
                self.assertEqual(rc, 0, out)

    def test_bad_values_refused_naming_the_key(self):
        cases = [
            ({"tls": "sometimes"}, "outbound.tls"),
            ({"smarthost": "relay.example.net:25", "smarthost_tls": "maybe"},
             "relay.smarthost_tls"),
            ({"smarthost": "relay.example.net:99999"}, "relay.smarthost"),
            ({"smarthost": "relay.example.net:25",
              "auth": str(self.dir / "missing")}, "relay.smarthost_auth_file"),
            ({"route": "ftp:[127.0.0.2]:21"}, "remote.test"),
            ({"route": "smtp:[127.0.0.2]:0"}, "remote.test"),
            ({"helo": "not a host name"}, "outbound.helo_name"),
        ]
        for over, key in cases:
            with self.subTest(**over):
                rc, out = self.check(**over)
                self.assertNotEqual(rc, 0, out)
                self.assertIn(key, out)

    def test_unknown_key_in_a_new_section_refused(self):
        f = self.dir / "bad.toml"
        f.write_text(BASE.format(dir=self.dir) + "\n[queue]\nretry_minimum = 5\n")
        p = subprocess.run([h.taube_bin(), "check-config", str(f)], capture_output=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        out = (p.stdout + p.stderr).decode(errors="replace")
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn("queue.retry_minimum", out)


if __name__ == "__main__":
    h.main()

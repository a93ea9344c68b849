"""The log (docs/logging.md): Postfix's line shapes under Postfix's program names, read back by
the tools written for Postfix. One server receives, delivers locally, relays to a peer that
accepts, one that answers 451 and one that answers 550, refuses RCPTs (relay access, unknown
user), a pregreeting client, a client with too many errors, AUTH failures and a client that
drops the connection; its log file (syslog's shape) then goes through Debian's pflogsumm
(--syslog-name=taube) and fail2ban-regex with etc/fail2ban/filter.d/taube.conf, and every
shape is parsed back with a regex. The outputs: stderr (the default look), a file reopened on
SIGUSR1 after a rename (logrotate), json (json.loads, the keys), syslog(3) (datagrams read from a
private /dev/log in a mount namespace)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

SRC = Path(os.environ.get("TAUBE_SOURCE_DIR", Path(__file__).resolve().parents[2]))
FILTER = SRC / "etc/fail2ban/filter.d/taube.conf"
JAIL = SRC / "etc/fail2ban/jail.d/taube.conf"
PFLOGSUMM = shutil.which("pflogsumm") or "/usr/sbin/pflogsumm"
FAIL2BAN_REGEX = shutil.which("fail2ban-regex") or "/usr/bin/fail2ban-regex"

ALICE = "alice@example.org"
BOB_LOCAL = "bob@example.org"
OK_RCPT = "bob@remote.test"
DEFER_RCPT = "x@defer.test"
BOUNCE_RCPT = "y@bounce.test"
FWD = "fwd@example.org"

# syslog's line as a file output writes it: "May  1 12:00:00 host taube/smtpd[123]: text".
SYSLOG_RX = re.compile(r"^(?P<stamp>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) (?P<host>\S+) "
                       r"(?P<tag>taube/[a-z]+)\[(?P<pid>\d+)\]: (?P<text>.*)$")
CLIENT = r"(?P<name>[^\s\[]+)\[(?P<ip>[^\]]+)\]"
QID = r"(?P<qid>[0-9A-F]{16})"
# Each Postfix shape (docs/logging.md), as Postfix's own parsers see it.
SHAPES = {
    "connect": rf"^connect from {CLIENT}$",
    "disconnect": rf"^disconnect from {CLIENT}(?P<counts>(?: [a-z]+=\d+(?:/\d+)?)*) "
                  rf"commands=\d+(?:/\d+)?$",
    "client": rf"^{QID}: client={CLIENT}(?:, sasl_method=\S+, sasl_username=\S+)?$",
    "reject": rf"^NOQUEUE: reject: (?P<stage>RCPT|MAIL|CONNECT) from {CLIENT}: (?P<code>\d{{3}}) "
              rf"(?P<dsn>\d\.\d+\.\d+) (?P<reason>[^;]+); "
              rf"(?:from=<(?P<from>[^>]*)> to=<(?P<to>[^>]*)> proto=E?SMTP helo=<[^>]*>|.*)$",
    "sasl": rf"^warning: {CLIENT}: SASL (?P<mech>[A-Z0-9-]+) authentication failed: .+$",
    "lost": rf"^lost connection after (?P<cmd>[A-Z]+) from {CLIENT}$",
    "errors": rf"^too many errors after (?P<cmd>[A-Z]+) from {CLIENT}$",
    "queued": rf"^{QID}: from=<(?P<from>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<n>\d+) "
              rf"\(queue active\)$",
    "delivery": rf"^{QID}: to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig>[^>]*)>, )?"
                rf"relay=(?P<relay>[^,]+), delay=(?P<delay>\d+(?:\.\d+)?), "
                rf"delays=(?P<delays>(?:\d+(?:\.\d+)?/){{3}}\d+(?:\.\d+)?), "
                rf"dsn=(?P<dsn>\d\.\d+\.\d+), status=(?P<status>sent|deferred|bounced|expired) "
                rf"\((?P<why>.*)\)$",
    "notice": rf"^{QID}: sender non-delivery notification: [0-9A-F]{{16}}$",
}
# Which program writes each shape (Postfix's own split).
SHAPE_TAGS = {"connect": {"taube/smtpd"}, "disconnect": {"taube/smtpd"},
              "client": {"taube/smtpd"}, "reject": {"taube/smtpd"}, "sasl": {"taube/smtpd"},
              "lost": {"taube/smtpd"}, "errors": {"taube/smtpd"}, "queued": {"taube/qmgr"},
              "delivery": {"taube/smtp", "taube/local"}, "notice": {"taube/bounce"}}


def parse_file(path: Path) -> list[re.Match]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        m = SYSLOG_RX.match(line)
        if m is None:
            raise AssertionError(f"not in syslog's shape: {line!r}")
        out.append(m)
    return out


def shape_of(text: str) -> tuple[str, re.Match] | tuple[None, None]:
    for name, rx in SHAPES.items():
        m = re.match(rx, text)
        if m:
            return name, m
    return None, None


def talk(srv, lines: list[str], source: str, port_index: int = 0, quit: bool = True):
    """One session from `source`: greet, each command (any reply), QUIT."""
    with h.RawClient(h.HOST, srv.ports[port_index], 10, source=source) as c:
        c.greet()
        replies = [c.cmd(line) for line in lines]
        if quit:
            c.cmd("QUIT")
    return replies


def submit_forwarded(srv, body: bytes) -> str:
    """A message to the alias FWD (251 2.1.5: will forward to OK_RCPT); returns its queue id."""
    with h.RawClient(h.HOST, srv.port, 10) as c:
        c.greet()
        c.expect("250", "MAIL FROM:<sender@client.test>")
        c.expect("251", f"RCPT TO:<{FWD}>")
        c.expect("354", "DATA")
        c.send(h.dot_stuff(body) + b".\r\n")
        qid = h.queued_id(c.reply())
        c.cmd("QUIT")
    return qid


class Scenario(unittest.TestCase):
    """The one server whose log file pflogsumm, fail2ban-regex and the shape regexes read."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="taube-logs-"))
        cls.ok = SmtpPeer()
        cls.defer = SmtpPeer(rcpt=lambda addr: "451 4.3.0 <%s>: Try again later" % addr)
        cls.bounce = SmtpPeer(rcpt=lambda addr: "550 5.1.1 <%s>: User unknown" % addr)
        users = cls.tmp / "users"
        s.write_users(users)
        cls.log = cls.tmp / "taube.log"
        cfg = o.config({"remote.test": o.route(cls.ok), "defer.test": o.route(cls.defer),
                        "bounce.test": o.route(cls.bounce)},
                       relay={"networks": ["127.0.0.1/32"]},
                       queue={"retry_min": 600, "retry_max": 600, "max_lifetime": 3600},
                       extra={
                           "listener": [{"address": h.HOST, "port": 0},
                                        s.listener("none", plaintext_auth=True)],
                           "users": {ALICE: "", BOB_LOCAL: ""},
                           "aliases": {FWD: [OK_RCPT]},
                           "auth": {"users_file": str(users), "failure_delay": 0,
                                    "max_failures": 1000},
                           "smtp": {"pregreet_delay": 0.3},
                           "limits": {"max_errors": 3},
                           "log": {"output": str(cls.log)},
                       })
        cls.srv = h.Taube(cfg, log_file=cls.log)
        try:
            cls.run_scenario()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        for p in (cls.ok, cls.defer, cls.bounce):
            p.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def run_scenario(cls):
        srv = cls.srv
        cls.qids = {
            "local": o.submit(srv, "sender@client.test", [ALICE], o.message("logs-local")),
            "ok": o.submit(srv, "sender@client.test", [OK_RCPT], o.message("logs-ok")),
            "defer": o.submit(srv, "sender@client.test", [DEFER_RCPT], o.message("logs-defer")),
            # A local sender: the non-delivery notice lands in alice's Maildir.
            "bounce": o.submit(srv, ALICE, [BOUNCE_RCPT], o.message("logs-bounce")),
            "fwd": submit_forwarded(srv, o.message("logs-fwd")),
        }
        # Refused RCPTs: relay access (127.0.0.5 is not in the relay networks), unknown user.
        for _ in range(2):
            r = talk(srv, ["MAIL FROM:<spam@spam.test>", "RCPT TO:<victim@elsewhere.test>"],
                     "127.0.0.5")
            assert r[1].code == 554, r
        r = talk(srv, ["MAIL FROM:<spam@spam.test>", "RCPT TO:<nobody@example.org>"],
                 "127.0.0.6")
        assert r[1].code == 550, r
        # Pregreet: EHLO before the greeting (pregreet_delay 0.3 s).
        with socket.create_connection((h.HOST, srv.port), 5, source_address=("127.0.0.7", 0)) as c:
            c.sendall(b"EHLO early.test\r\n")
            c.settimeout(5)
            assert c.recv(4096).startswith(b"554 "), "pregreet not refused"
        # Too many errors: three unknown commands (limits.max_errors = 3).
        with h.RawClient(h.HOST, srv.port, 10, source="127.0.0.8") as c:
            c.greet()
            codes = [c.cmd("FOO").code for _ in range(3)]
            assert codes == [500, 500, 500], codes
            assert c.is_closed(), "not closed after too many errors"
        # AUTH failures on the plaintext-auth listener.
        bad = s.b64(f"\0{s.ALICE}\0wrong-password")
        for _ in range(2):
            r = talk(srv, [f"AUTH PLAIN {bad}"], "127.0.0.9", port_index=1)
            assert r[0].code == 535, r
        # A client that drops the connection after EHLO.
        c = h.RawClient(h.HOST, srv.port, 10, source="127.0.0.10")
        c.greet()
        c.close()
        # Every outcome logged: sent, deferred, bounced (and the notice filed for alice).
        for rx in (o.status_rx(ALICE, "sent", cls.qids["local"]),
                   o.status_rx(OK_RCPT, "sent", cls.qids["ok"]),
                   o.status_rx(DEFER_RCPT, "deferred", cls.qids["defer"]),
                   o.status_rx(BOUNCE_RCPT, "bounced", cls.qids["bounce"]),
                   o.status_rx(OK_RCPT, "sent", cls.qids["fwd"]),
                   r"sender non-delivery notification: ",
                   o.status_rx(ALICE, "sent") + r"(?<=delivered to maildir\))",
                   r"lost connection after EHLO from unknown\[127\.0\.0\.10\]"):
            assert srv.wait_log(rx, 15), f"no line {rx}:\n" + srv.log_text()[-4000:]
        srv.stop()
        cls.lines = parse_file(cls.log)

    # -- the shapes ----------------------------------------------------------------------------

    def parsed(self) -> list[tuple[str, re.Match, re.Match]]:
        out = []
        for line in self.lines:
            name, m = shape_of(line.group("text"))
            if name:
                out.append((name, m, line))
        return out

    def test_every_shape_is_written_and_parses_back(self):
        seen = Counter(name for name, _, _ in self.parsed())
        for name in SHAPES:
            self.assertGreater(seen[name], 0, f"no {name} line:\n" + self.log.read_text())
        self.assertEqual(seen["reject"], 4, self.log.read_text())  # relay x2, user, pregreet
        self.assertEqual(seen["sasl"], 2)
        self.assertEqual(seen["errors"], 1)
        self.assertEqual(seen["client"], 5)
        self.assertEqual(seen["queued"], 5)

    def test_each_shape_under_its_program_name(self):
        for name, _, line in self.parsed():
            self.assertIn(line.group("tag"), SHAPE_TAGS[name], line.string)
        tags = Counter(line.group("tag") for line in self.lines)
        self.assertIn("taube/master", tags)  # "listening on", "ready", the signal
        pids = {line.group("pid") for line in self.lines}
        self.assertEqual(pids, {str(self.srv.pid)})

    def test_field_values(self):
        by = {}
        for name, m, _ in self.parsed():
            by.setdefault(name, []).append(m)
        relay = [m for m in by["reject"] if m.group("ip") == "127.0.0.5"]
        self.assertEqual(len(relay), 2)
        for m in relay:
            self.assertEqual((m.group("stage"), m.group("code"), m.group("dsn")),
                             ("RCPT", "554", "5.7.1"))
            self.assertTrue(m.group("reason").endswith("Relay access denied"), m.group(0))
            self.assertEqual((m.group("from"), m.group("to")),
                             ("spam@spam.test", "victim@elsewhere.test"))
        [user] = [m for m in by["reject"] if m.group("ip") == "127.0.0.6"]
        self.assertEqual((user.group("code"), user.group("dsn")), ("550", "5.1.1"))
        [pregreet] = [m for m in by["reject"] if m.group("ip") == "127.0.0.7"]
        self.assertEqual(pregreet.group("stage"), "CONNECT")
        deliveries = {(m.group("qid"), m.group("to")): m for m in by["delivery"]}
        ok = deliveries[(self.qids["ok"], OK_RCPT)]
        self.assertEqual(ok.group("relay"), f"127.0.0.2[127.0.0.2]:{self.ok.port}")
        self.assertEqual(ok.group("dsn"), "2.0.0")
        fwd = deliveries[(self.qids["fwd"], OK_RCPT)]
        self.assertEqual(fwd.group("orig"), FWD)
        local = deliveries[(self.qids["local"], ALICE)]
        self.assertEqual((local.group("relay"), local.group("why")),
                         ("local", "delivered to maildir"))
        d = deliveries[(self.qids["defer"], DEFER_RCPT)]
        self.assertEqual((d.group("status"), d.group("dsn")), ("deferred", "4.3.0"))
        self.assertIn("451 4.3.0", d.group("why"))
        b = deliveries[(self.qids["bounce"], BOUNCE_RCPT)]
        self.assertEqual((b.group("status"), b.group("dsn")), ("bounced", "5.1.1"))
        for m in by["delivery"]:
            stages = [float(x) for x in m.group("delays").split("/")]
            self.assertLessEqual(sum(stages), float(m.group("delay")) + 0.05, m.group(0))
        sizes = {m.group("qid"): int(m.group("size")) for m in by["queued"]}
        self.assertGreater(sizes[self.qids["ok"]], 100)
        [lost] = by["lost"]
        self.assertEqual((lost.group("cmd"), lost.group("ip")), ("EHLO", "127.0.0.10"))
        disc = [m for m in by["disconnect"] if m.group("ip") == "127.0.0.5"]
        self.assertEqual(disc[0].group("counts"), " ehlo=1 mail=1 rcpt=0/1 quit=1")

    # -- pflogsumm ----------------------------------------------------------------------------

    def test_pflogsumm_counts(self):
        h.require(PFLOGSUMM)
        p = subprocess.run([PFLOGSUMM, "--syslog-name=taube", str(self.log)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        counts = {}
        for m in re.finditer(r"^\s*(\d+)\s+(received|delivered|forwarded|deferred|bounced|"
                             r"rejected)\b", p.stdout, re.M):
            counts.setdefault(m.group(2), int(m.group(1)))
        # received: the five messages' "client=" lines; delivered: alice (local), bob twice
        # (direct and through the alias) and the notice in alice's Maildir; rejected: the two
        # relay probes, the unknown user and the pregreeting client.
        self.assertEqual(counts, {"received": 5, "delivered": 4, "forwarded": 0, "deferred": 1,
                                  "bounced": 1, "rejected": 4}, p.stdout)
        self.assertRegex(p.stdout, r"Relay access denied")

    # -- fail2ban -----------------------------------------------------------------------------

    def fail2ban(self, mode: str) -> list[str]:
        h.require(FAIL2BAN_REGEX)
        # fail2ban-regex resolves the filter's "before = common.conf" next to it: a private
        # filter.d with Debian's common.conf and the shipped filter.
        conf = self.tmp / "fail2ban" / "filter.d"
        conf.mkdir(parents=True, exist_ok=True)
        shutil.copy("/etc/fail2ban/filter.d/common.conf", conf)
        shutil.copy(FILTER, conf / "taube.conf")
        p = subprocess.run([FAIL2BAN_REGEX, "-o", "ip", str(self.log),
                            f"{conf / 'taube.conf'}[mode={mode}]"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p.stdout.split()

    def test_fail2ban_normal(self):
        self.assertEqual(sorted(self.fail2ban("normal")),
                         ["127.0.0.5", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"])

    def test_fail2ban_auth(self):
        self.assertEqual(self.fail2ban("auth"), ["127.0.0.9", "127.0.0.9"])

    def test_fail2ban_ddos(self):
        self.assertEqual(self.fail2ban("ddos"), ["127.0.0.10"])

    def test_fail2ban_aggressive(self):
        self.assertEqual(Counter(self.fail2ban("aggressive")),
                         Counter({"127.0.0.5": 2, "127.0.0.6": 1, "127.0.0.7": 1, "127.0.0.8": 1,
                                  "127.0.0.9": 2, "127.0.0.10": 1}))

    def test_fail2ban_jail_loads(self):
        """The shipped jails, enabled on this log, in a private copy of Debian's configuration:
        fail2ban-client -d (the parsed configuration) shows both jails with the filter's
        regexes and the log path."""
        client = shutil.which("fail2ban-client") or "/usr/bin/fail2ban-client"
        h.require(client)
        conf = self.tmp / "f2b-conf"
        shutil.copytree("/etc/fail2ban", conf, dirs_exist_ok=True)
        shutil.copy(FILTER, conf / "filter.d" / "taube.conf")
        jail = JAIL.read_text().replace("enabled  = false", "enabled  = true")
        jail = jail.replace("/var/log/taube/taube.log", str(self.log))
        (conf / "jail.d" / "taube.conf").write_text(jail)
        p = subprocess.run([client, "-c", str(conf), "-d"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        lines = [line for line in p.stdout.splitlines() if "taube" in line]
        for name in ("taube", "taube-sasl"):
            self.assertIn(f"['add', '{name}', 'auto']", lines)
            self.assertIn(f"['set', '{name}', 'addlogpath', '{self.log}', 'head']", lines)
            self.assertIn(f"['start', '{name}']", lines)
        self.assertTrue(any(line.startswith("['set', 'taube-sasl', 'addfailregex', ")
                            and "SASL" in line for line in lines), lines)
        self.assertTrue(any(line.startswith("['multi-set', 'taube', 'addfailregex', ")
                            and "Relay access denied" in line for line in lines), lines)


class Outputs(unittest.TestCase):
    def test_stderr_keeps_the_default_look(self):
        srv = h.Taube({})
        self.addCleanup(srv.cleanup)
        talk(srv, [], "127.0.0.3")
        self.assertIsNotNone(srv.wait_log(
            r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info connect from unknown\[127\.0\.0\.3\]$"))
        self.assertIsNotNone(srv.wait_log(
            r"^\S+ info disconnect from unknown\[127\.0\.0\.3\] ehlo=1 quit=1 commands=2$"))
        # SIGUSR1 with stderr output: nothing to reopen, and the server lives on.
        os.kill(srv.pid, signal.SIGUSR1)
        talk(srv, [], "127.0.0.4")
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[127\.0\.0\.4\]"))
        srv.stop()

    def test_file_reopened_on_sigusr1_after_rename(self):
        tmp = Path(tempfile.mkdtemp(prefix="taube-logs-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        log = tmp / "taube.log"
        srv = h.Taube({"log": {"output": str(log)}}, log_file=log)
        self.addCleanup(srv.cleanup)
        talk(srv, [], "127.0.0.3")
        self.assertIsNotNone(srv.wait_log(r"taube/smtpd\[\d+\]: disconnect from unknown\[127\.0\.0\.3\]"))
        rotated = tmp / "taube.log.1"
        log.rename(rotated)  # logrotate's rename
        talk(srv, [], "127.0.0.4")  # still written to the renamed file
        deadline = time.monotonic() + 5
        while "127.0.0.4" not in rotated.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(srv.pid, signal.SIGUSR1)  # logrotate's postrotate
        self.assertIsNotNone(srv.wait_log(r"taube/master\[\d+\]: reopened the log file "
                                          + re.escape(str(log)) + "$"))
        talk(srv, [], "127.0.0.6")
        self.assertIsNotNone(srv.wait_log(r"disconnect from unknown\[127\.0\.0\.6\]"))
        srv.stop()
        old, new = rotated.read_text(), log.read_text()
        self.assertIn("connect from unknown[127.0.0.3]", old)
        self.assertIn("disconnect from unknown[127.0.0.4]", old)
        self.assertNotIn("127.0.0.6", old)
        self.assertNotIn("127.0.0.4", new)
        self.assertIn("connect from unknown[127.0.0.6]", new)
        for line in parse_file(log):
            self.assertEqual(line.group("pid"), str(srv.pid))

    def test_json(self):
        tmp = Path(tempfile.mkdtemp(prefix="taube-logs-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        peer = SmtpPeer()
        self.addCleanup(peer.stop)
        log = tmp / "taube.json"
        cfg = o.config({"remote.test": o.route(peer)}, relay={"networks": ["127.0.0.1/32"]},
                       extra={"aliases": {FWD: [OK_RCPT]},
                              "log": {"output": str(log), "format": "json"}})
        srv = h.Taube(cfg, log_file=log)
        self.addCleanup(srv.cleanup)
        with h.RawClient(h.HOST, srv.port, 10) as c:
            c.greet()
            c.starttls()
            c.ehlo()
            c.expect("250", "MAIL FROM:<sender@client.test>")
            c.expect("250", f"RCPT TO:<{ALICE}>")
            c.expect("25", f"RCPT TO:<{FWD}>")  # 251: will forward
            c.expect("354", "DATA")
            c.send(h.dot_stuff(o.message("logs-json")) + b".\r\n")
            qid = h.queued_id(c.reply())
            c.cmd("QUIT")
        talk(srv, ["MAIL FROM:<spam@spam.test>", "RCPT TO:<victim@elsewhere.test>"], "127.0.0.5")
        self.assertIsNotNone(srv.wait_log(r'"status":"sent".*"text":"' + qid + r": to=<"
                                          + re.escape(OK_RCPT), 10), srv.log_text())
        self.assertIsNotNone(srv.wait_log(r'"event":"reject"', 5))
        srv.stop()
        events = [json.loads(line) for line in log.read_text().splitlines()]
        for e in events:
            for key in ("time", "host", "tag", "pid", "level", "event", "text"):
                self.assertIn(key, e)
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertTrue(e["tag"].startswith("taube/"), e)
        by = {}
        for e in events:
            by.setdefault(e["event"], []).append(e)
        [client] = [e for e in by["client"] if e["queue_id"] == qid]
        self.assertEqual((client["tag"], client["client"], client["tls"]),
                         ("taube/smtpd", "unknown[127.0.0.1]", "TLSv1.3"))
        [queued] = [e for e in by["queued"] if e["queue_id"] == qid]
        self.assertEqual((queued["tag"], queued["from"], queued["nrcpt"]),
                         ("taube/qmgr", "sender@client.test", 2))
        self.assertIsInstance(queued["size"], int)
        mine = {e["to"]: e for e in by["delivery"] if e["queue_id"] == qid}
        self.assertEqual(set(mine), {ALICE, OK_RCPT})
        remote = mine[OK_RCPT]
        self.assertEqual(remote["tag"], "taube/smtp")
        self.assertEqual(remote["orig_to"], FWD)
        self.assertEqual(remote["relay"], f"127.0.0.2[127.0.0.2]:{peer.port}")
        self.assertEqual((remote["dsn"], remote["status"]), ("2.0.0", "sent"))
        self.assertIsInstance(remote["delay"], (int, float))
        self.assertRegex(remote["delays"], r"^[\d.]+/[\d.]+/[\d.]+/[\d.]+$")
        self.assertTrue(remote["reason"].startswith("250 "), remote)
        self.assertEqual((mine[ALICE]["tag"], mine[ALICE]["relay"], mine[ALICE]["reason"]),
                         ("taube/local", "local", "delivered to maildir"))
        self.assertNotIn("orig_to", mine[ALICE])
        [reject] = by["reject"]
        self.assertEqual((reject["client"], reject["from"], reject["to"], reject["dsn"],
                          reject["code"], reject["stage"]),
                         ("unknown[127.0.0.5]", "spam@spam.test", "victim@elsewhere.test",
                          "5.7.1", 554, "RCPT"))
        self.assertTrue(reject["reason"].endswith("Relay access denied"), reject)
        self.assertTrue(reject["text"].startswith("NOQUEUE: reject: RCPT from"), reject)
        self.assertTrue(any(e["tag"] == "taube/master" and e["event"] == "message"
                            and "ready" in e["text"] for e in events))

    def test_syslog(self):
        """syslog(3) writes to /dev/log, which this machine may lack and which a test must not
        take: Taube runs in a private mount namespace (unshare, as root) whose /dev is a tmpfs
        with the device nodes it needs and /dev/log a link to the test's datagram socket."""
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a private /dev/log")
        tmp = Path(tempfile.mkdtemp(prefix="taube-logs-"))
        self.addCleanup(shutil.rmtree, tmp, True)
        sock_path = tmp / "log.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(str(sock_path))
        sock.settimeout(0.2)
        wrapper = tmp / "taube-ns"
        wrapper.write_text(f"""#!/bin/sh
exec unshare -m --propagation private sh -c '
d=$(mktemp -d) && mount --rbind /dev "$d" && mount -t tmpfs none /dev || exit 97
for n in null zero urandom random; do touch /dev/$n && mount --bind "$d/$n" /dev/$n; done
ln -s {sock_path} /dev/log
exec "$0" "$@"' {h.taube_bin()} "$@"
""")
        wrapper.chmod(0o755)
        port = free_port("127.0.0.1")
        try:
            srv = h.Taube({"log": {"output": "syslog"}}, port=port, ready="smtp",
                          binary=str(wrapper))
        except AssertionError as e:
            self.skipTest(f"no private mount namespace here: {e}")
        self.addCleanup(srv.cleanup)
        talk(srv, ["MAIL FROM:<spam@spam.test>", "RCPT TO:<victim@elsewhere.test>"], "127.0.0.5")
        got = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("disconnect from unknown[127.0.0.5]" in g
                                                      for g in got):
            try:
                got.append(sock.recv(65536).decode())
            except socket.timeout:
                pass
        srv.stop()
        # glibc's datagram: "<PRI>Mmm dd hh:mm:ss ident[pid]: text" (RFC 3164, no host name).
        rx = re.compile(r"^<(?P<pri>\d+)>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d "
                        r"(?P<tag>taube/[a-z]+)\[(?P<pid>\d+)\]: (?P<text>.*)$")
        parsed = [rx.match(g) for g in got]
        self.assertTrue(all(parsed), got)
        lines = {(m.group("tag"), m.group("text")): int(m.group("pri")) for m in parsed}
        mail, info = 2 << 3, 6  # LOG_MAIL, LOG_INFO
        self.assertEqual(lines.get(("taube/smtpd", "connect from unknown[127.0.0.5]")),
                         mail | info, got)
        reject = [k for k in lines if k[1].startswith("NOQUEUE: reject: RCPT from unknown")]
        self.assertEqual(len(reject), 1, got)
        self.assertTrue(any(k[0] == "taube/master" and "ready" in k[1] for k in lines), got)
        self.assertEqual({m.group("pid") for m in parsed}, {str(srv.pid)})


if __name__ == "__main__":
    h.main()

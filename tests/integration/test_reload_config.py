"""SIGHUP reloads the whole configuration that can change at run time (issue 12): local domains,
aliases, relay networks, limits, the log level and the queue's routing apply to new connections
and to the queue's next attempts; a connection opened before the reload keeps the configuration
it started with; what only a restart changes (listeners, mail root, queue place) is kept and
named in the log; a broken file changes nothing and the error names the file, line and key."""

from __future__ import annotations

import signal
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest.config import merge, to_toml  # noqa: E402
from taubetest.smtp import ehlo_keywords  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

OK = "reloaded the configuration"
FAILED = "reload failed, the configuration in force is unchanged"


def rewrite(srv: h.Taube, over: dict | None = None, *, text: str | None = None) -> None:
    """Writes the server's config file anew: its current config merged with `over`, or `text`."""
    if text is None:
        srv.config = merge(srv.config, over or {})
        text = to_toml(srv.config)
    srv.config_path.write_text(text)


def hup(srv: h.Taube, marker: str = OK, timeout: float = 10) -> str:
    """SIGHUP, then the first new log line with `marker` (asserted)."""
    start = len(srv.lines())
    srv.proc.send_signal(signal.SIGHUP)
    m = srv.wait_log(marker, timeout, start=start)
    if m is None:
        raise AssertionError(f"no '{marker}' line after SIGHUP:\n{srv.log_text()[-4000:]}")
    return m.string


def size_of(reply) -> int:
    for k in ehlo_keywords(reply):
        if k.upper().startswith("SIZE"):
            return int(k.split()[1])
    raise AssertionError(f"no SIZE in {reply.text}")


class ReloadPolicy(unittest.TestCase):
    def setUp(self):
        self.srv = o.guard(self, h.Taube({"limits": {"max_message_size": 1000000}}))

    def test_domains_aliases_relay_and_limits_apply_to_new_connections(self):
        srv = self.srv
        before = srv.client()
        r = before.greet()
        self.assertEqual(size_of(r), 1000000)
        before.expect("250", "MAIL FROM:<x@client.test>")
        before.expect("554 5.7.1", "RCPT TO:<carol@new.test>")
        before.expect("554 5.7.1", "RCPT TO:<bob@remote.test>")

        rewrite(srv, {"delivery": {"domains": ["localhost", "example.org", "new.test"]},
                      "aliases": {"team@example.org": ["alice@example.org"]},
                      "relay": {"networks": ["127.0.0.0/8"]},
                      "limits": {"max_message_size": 54321}})
        line = hup(srv)
        self.assertNotIn("restart", line)

        # The connection opened before the reload lives on with its configuration.
        before.expect("554 5.7.1", "RCPT TO:<carol@new.test>")
        before.expect("554 5.7.1", "RCPT TO:<bob@remote.test>")
        before.expect("221", "QUIT")
        before.close()

        with srv.client() as c:
            self.assertEqual(size_of(c.greet()), 54321)
            c.expect("250", "MAIL FROM:<x@client.test>")
            c.expect("250", "RCPT TO:<carol@new.test>")
            c.expect("250", "RCPT TO:<bob@remote.test>")
            c.expect("250", "RSET")
            c.expect("250", "MAIL FROM:<x@client.test>")
            c.expect("251", "RCPT TO:<team@example.org>")
            c.expect("354", "DATA")
            c.send(b"Subject: through the new alias\r\n\r\nreload-alias-marker\r\n.\r\n")
            c.expect("250")
            c.expect("221", "QUIT")
        msgs = h.wait_messages(srv.maildir("alice@example.org"), 1)
        self.assertIn(b"reload-alias-marker", msgs[0].read_bytes())

        # And back: the domain and the relay networks removed again, the domain is refused again.
        rewrite(srv, {"delivery": {"domains": ["localhost", "example.org"]},
                      "relay": {"networks": []}})
        hup(srv)
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<x@client.test>")
            c.expect("554 5.7.1", "RCPT TO:<carol@new.test>")

    def test_log_level(self):
        srv = self.srv
        rewrite(srv, {"log_level": "warning"})
        hup(srv)
        start = len(srv.lines())
        with srv.client() as c:
            c.greet()
            c.expect("221", "QUIT")
        # The disconnect line comes after the QUIT; give it the time a line takes.
        time.sleep(0.5)
        quiet = srv.lines()[start:]
        self.assertFalse([l for l in quiet if "connect from" in l], quiet)
        rewrite(srv, {"log_level": "info"})
        srv.proc.send_signal(signal.SIGHUP)
        # The reload's own line is a warning-free info line: it shows only once info is back on.
        self.assertIsNotNone(srv.wait_log(OK, 10, start=start), srv.log_text()[-3000:])
        start = len(srv.lines())
        with srv.client() as c:
            c.greet()
            c.expect("221", "QUIT")
        self.assertIsNotNone(srv.wait_log("disconnect from", 5, start=start))

    def test_restart_only_keys_are_kept_and_named(self):
        srv = self.srv
        old_port = srv.port
        other = h.free_port()
        rewrite(srv, {"listener": [{"address": h.HOST, "port": other}],
                      "delivery": {"mail_root": str(srv.dir / "elsewhere")},
                      "queue": {"path": "./var/other-queue"},
                      "limits": {"max_message_size": 4242}})
        line = hup(srv, "reloaded the configuration; needs a restart to change")
        for key in ("listener", "delivery.mail_root", "queue.path"):
            self.assertIn(key, line)
        # The reloadable part of the same file took effect; the listener did not move.
        with srv.client() as c:
            self.assertEqual(size_of(c.greet()), 4242)
            c.expect("250", "MAIL FROM:<x@client.test>")
            c.expect("250", "RCPT TO:<alice@example.org>")
            c.expect("354", "DATA")
            c.send(b"Subject: still here\r\n\r\nold-root-marker\r\n.\r\n")
            c.expect("250")
            c.expect("221", "QUIT")
        self.assertEqual(srv.port, old_port)
        msgs = h.wait_messages(srv.maildir("alice@example.org"), 1)
        self.assertIn(b"old-root-marker", msgs[0].read_bytes())
        self.assertFalse((srv.dir / "elsewhere").exists())
        with self.assertRaises(OSError):
            h.RawClient(h.HOST, other, 2).greet()

    def test_broken_file_changes_nothing(self):
        srv = self.srv
        good = to_toml(srv.config)
        # A TOML syntax error: the message names the file and the line.
        rewrite(srv, text=good + "\n[limits\nmax_errors = 3\n")
        line = hup(srv, FAILED)
        self.assertIn(f"{srv.config_path}:", line)
        # A bad value names the key.
        rewrite(srv, text=good.replace("max_message_size = 1000000", 'max_message_size = "big"'))
        line = hup(srv, FAILED)
        self.assertIn("max_message_size", line)
        # A consistency error of validate(): no local domain left.
        rewrite(srv, {"delivery": {"domains": []}})
        line = hup(srv, FAILED)
        self.assertIn("delivery.domains", line)
        with srv.client() as c:
            self.assertEqual(size_of(c.greet()), 1000000)
            c.expect("250", "MAIL FROM:<x@client.test>")
            c.expect("250", "RCPT TO:<alice@example.org>")
        srv.assert_alive()


class ReloadRouting(unittest.TestCase):
    """The queue's next attempt uses the routing of the reloaded file."""

    def test_deferred_mail_goes_by_the_new_route(self):
        dead = SmtpPeer(port=free_port(), rcpt=lambda addr: "451 4.3.0 try again later")
        self.addCleanup(dead.stop)
        alive = SmtpPeer(host="127.0.0.3", port=free_port("127.0.0.3"))
        self.addCleanup(alive.stop)
        srv = o.guard(self, o.start({o.REMOTE: o.route(dead)},
                                    queue={"retry_min": 1, "retry_max": 1}))
        qid = o.submit(srv, o.ALICE, [o.BOB], o.message("reroute"))
        self.assertIsNotNone(srv.wait_log(o.status_rx(o.BOB, "deferred", qid), 10),
                             srv.log_text()[-3000:])
        rewrite(srv, {"transport": {o.REMOTE: o.route(alive)}})
        hup(srv)
        m = srv.wait_log(o.status_rx(o.BOB, "sent", qid), 15)
        self.assertIsNotNone(m, srv.log_text()[-3000:])
        self.assertIn(f"relay=127.0.0.3[127.0.0.3]:{alive.port}", m.string)
        got = alive.wait_for(1, 5)
        self.assertEqual(got[0].rcpt_addrs(), [o.BOB])


if __name__ == "__main__":
    h.main()

"""The real taube binary driven by Python's smtplib and by a raw socket for byte-exact dialogs."""

import datetime
import random
import smtplib
import sys
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

MAX_SIZE_OPEN = 4 * 1024 * 1024
MAX_SIZE_SMALL = 10000
MAX_RCPTS = 5
MAX_ERRORS = 3

servers: dict[str, h.Taube] = {}


def setUpModule():
    # Any local part accepted (no [users]).
    servers["open"] = h.Taube({"limits": {"max_message_size": MAX_SIZE_OPEN}})
    # [users] configured: only these local parts exist.
    servers["users"] = h.Taube({"users": {
        "alice@example.org": "", "bob@example.org": "", "user@localhost": "",
        "postmaster@example.org": ""}})
    servers["limits"] = h.Taube({"limits": {
        "max_message_size": MAX_SIZE_SMALL, "max_recipients": MAX_RCPTS,
        "max_errors": MAX_ERRORS}})


def tearDownModule():
    errors = []
    for name, srv in servers.items():
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(f"{name}: {e}")
        finally:
            srv.cleanup()
    if errors:
        raise AssertionError("\n".join(errors))


def smtp(name="open", helo="client.test") -> smtplib.SMTP:
    s = smtplib.SMTP(h.HOST, servers[name].port, local_hostname=helo, timeout=15)
    return s


def send_one(srv: h.Taube, sender, rcpts, msg: bytes, mail_options=(), helo="client.test"):
    """MAIL/RCPT/DATA with smtplib (which does CRLF fixing and dot-stuffing); returns queue id."""
    with smtplib.SMTP(h.HOST, srv.port, local_hostname=helo, timeout=30) as s:
        code, _ = s.ehlo()
        assert code == 250, code
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code in (250, 251), (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, (code, resp)
        m = h.QUEUED_RX.match(f"{code} {resp.decode()}")
        assert m, f"bad queued reply {code} {resp!r}"
        return m.group(1)


class Base(unittest.TestCase):
    def assert_single_stored(self, srv, rcpt, expected_content, sender, queue_id=None,
                             for_rcpt=None, helo="client.test", with_="ESMTP"):
        md = srv.maildir(rcpt)
        msgs = h.wait_messages(md, 1, timeout=5)
        self.assertEqual(len(msgs), 1, f"expected exactly one message in {md}, got {msgs}")
        self.assertEqual(h.maildir_tmp(md), [], "tmp/ must be empty after the transaction")
        st = h.read_stored(msgs[0])
        self.assertEqual(st.return_path, sender)
        self.assertEqual(st.r["helo"], helo)
        self.assertEqual(st.r["ip"], "127.0.0.1")
        self.assertEqual(st.r["by"], h.HOSTNAME)
        self.assertEqual(st.r["with"], with_)
        if queue_id is not None:
            self.assertEqual(st.queue_id, queue_id, "Received id must be the id of the 250 reply")
        self.assertEqual(st.r["for"], for_rcpt)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - st.date).total_seconds()), 300, st.r["date"])
        self.assertEqual(st.content, expected_content)
        return st


def headers(subject: str) -> bytes:
    return (f"From: <sender@localhost>\r\nTo: <rcpt@localhost>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject}.{time.time_ns()}@client.test>\r\n\r\n").encode()


class Basics(Base):
    def test_plain_send(self):
        srv = servers["open"]
        msg = headers("plain") + b"Hello Taube.\r\nSecond line.\r\n"
        qid = send_one(srv, "sender@localhost", ["plain@localhost"], msg)
        self.assert_single_stored(srv, "plain@localhost", h.wire_to_stored(msg),
                                  "sender@localhost", qid, for_rcpt="plain@localhost")

    def test_received_header_exact_format(self):
        srv = servers["open"]
        msg = headers("received") + b"x\r\n"
        qid = send_one(srv, "s@localhost", ["received@localhost"], msg, helo="helo.test")
        st = h.read_stored(h.wait_messages(srv.maildir("received@localhost"), 1)[0])
        # RFC 5321 §4.4 TCP-info: Taube does no reverse DNS, so only the address literal is given
        # ("from <helo> ([<ip>])"); repeating the unverified HELO name there would look verified.
        self.assertRegex(st.received,
                         r"^from helo\.test \(\[127\.0\.0\.1\]\) by mx\.test "
                         r"\(Taube\) with ESMTP id " + qid + r" for <received@localhost>; "
                         r"\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")
        # Folded: no physical line of the stored header longer than 78 characters.
        for line in st.received_raw.split(b"\n"):
            self.assertLessEqual(len(line), 78, st.received_raw)

    def test_local_part_lowercased_and_null_sender(self):
        srv = servers["open"]
        msg = headers("mixedcase") + b"body\r\n"
        qid = send_one(srv, "", ["MiXeD.Case@LOCALHOST"], msg)
        md = srv.mail_root / "localhost" / "mixed.case"
        self.assertTrue(md.is_dir(), f"expected lowercased Maildir {md}; tree: "
                        f"{h.all_maildirs(srv.mail_root)}")
        self.assert_single_stored(srv, "mixed.case@localhost", h.wire_to_stored(msg), "", qid,
                                  for_rcpt="MiXeD.Case@LOCALHOST")

    def test_helo_gives_with_smtp(self):
        srv = servers["open"]
        with srv.client() as c:
            c.expect("220 ")
            c.expect("250", "HELO oldclient.test")
            body = headers("helo") + b"via HELO\r\n"
            qid = h.queued_id(c.send_message("s@localhost", ["helo@localhost"], body))
            c.expect("221", "QUIT")
        self.assert_single_stored(srv, "helo@localhost", h.wire_to_stored(body), "s@localhost",
                                  qid, for_rcpt="helo@localhost", helo="oldclient.test",
                                  with_="SMTP")

    def test_greeting_and_ehlo_keywords(self):
        with smtp() as s:
            # smtplib keeps no greeting text; read it with the raw client too.
            code, _ = s.ehlo()
            self.assertEqual(code, 250)
            for kw in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "smtputf8",
                       "dsn", "chunking"):
                self.assertTrue(s.has_extn(kw), f"EHLO lacks {kw}: {s.esmtp_features}")
            self.assertEqual(s.esmtp_features["size"].strip(), str(MAX_SIZE_OPEN))
            self.assertFalse(s.has_extn("etrn"), "ETRN advertised although etrn = false")
        with servers["limits"].client() as c:
            g = c.expect("220 ")
            self.assertTrue(g.last.startswith(f"220 {h.HOSTNAME} ESMTP Taube"), g.text)
            r = c.expect("250", "EHLO client.test")
            self.assertTrue(r.lines[0].startswith(b"250-" + h.HOSTNAME.encode()), r.text)
            kws = [l[4:].decode().split()[0].upper() for l in r.lines[1:]]
            self.assertIn("SIZE", kws)
            size_line = [l for l in r.lines[1:] if l[4:].upper().startswith(b"SIZE")][0]
            self.assertEqual(size_line[4:].split()[1], str(MAX_SIZE_SMALL).encode(), r.text)

    def test_mail_requires_helo(self):
        with servers["open"].client() as c:
            c.expect("220 ")
            c.expect("503 5.5.1", "MAIL FROM:<a@localhost>")
            c.expect("250", "EHLO client.test")
            c.expect("250", "MAIL FROM:<a@localhost>")

    def test_syntax_errors(self):
        with servers["open"].client() as c:
            c.greet()
            c.expect("500 5.5.1", "FROBNICATE now")
            c.expect("501", "MAIL FROM:<unclosed@localhost")
            c.expect("501", "MAIL FROM:<a@@localhost>")
            c.expect("501", "MAIL TO:<a@localhost>")
            c.expect("555 5.5.4", "MAIL FROM:<a@localhost> FROB=1")
            c.expect("500 5.5.6", "NOOP " + "x" * 600)
            # The session survives all of that.
            c.expect("250", "MAIL FROM:<a@localhost>")
            c.expect("555 5.5.4", "RCPT TO:<b@localhost> FROB=1")
            c.expect("250", "RCPT TO:<b@localhost>")
            c.expect("250", "RSET")

    def test_command_line_limit_boundary(self):
        # RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF.
        with servers["open"].client() as c:
            c.greet()
            ok = b"NOOP " + b"x" * (512 - 2 - 5)
            self.assertEqual(len(ok) + 2, 512)
            c.expect("250", ok)
            c.expect("500 5.5.6", ok + b"y")
            c.expect("250", "NOOP")

    def test_pipelined_transaction_in_one_write(self):
        srv = servers["open"]
        with srv.client() as c:
            c.greet()
            c.send(b"MAIL FROM:<pipe@localhost>\r\nRCPT TO:<pipe1@localhost>\r\n"
                   b"RCPT TO:<someone@not-local.example>\r\nRCPT TO:<pipe2@example.org>\r\n"
                   b"DATA\r\n")
            rs = c.replies(5)
            codes = [r.last[:9] for r in rs]
            self.assertEqual([r.code for r in rs], [250, 250, 554, 250, 354], codes)
            self.assertTrue(rs[2].last.startswith("554 5.7.1"), rs[2].text)
            body = headers("pipelined") + b"pipelined body\r\n"
            c.send(body + b".\r\nQUIT\r\n")
            qid = h.queued_id(c.reply())
            c.expect("221")
        st = self.assert_single_stored(srv, "pipe1@localhost", h.wire_to_stored(body),
                                       "pipe@localhost", qid, for_rcpt=None)
        st2 = h.read_stored(h.maildir_messages(srv.maildir("pipe2@example.org"))[0])
        self.assertEqual(st2.content, st.content)
        self.assertFalse((srv.mail_root / "not-local.example").exists())

    def test_multi_recipient_with_alias_fanout(self):
        srv = servers["open"]
        msg = headers("multi") + b"to several\r\n"
        rcpts = ["multi1@localhost", "info@example.org", "carol@example.org"]
        qid = send_one(srv, "sender@localhost", rcpts, msg)
        # info@example.org fans out to alice and bob.
        for r in ["multi1@localhost", "alice@example.org", "bob@example.org",
                  "carol@example.org"]:
            md = srv.maildir(r)
            msgs = [m for m in h.wait_messages(md, 1)
                    if h.read_stored(m).content == h.wire_to_stored(msg)]
            self.assertEqual(len(msgs), 1, f"{r}: {h.maildir_messages(md)}")
            st = h.read_stored(msgs[0])
            self.assertEqual(st.queue_id, qid)
            self.assertIsNone(st.r["for"], "no 'for' clause with several recipients")
            self.assertEqual(st.return_path, "sender@localhost")
            self.assertEqual(h.maildir_tmp(md), [])
        self.assertFalse(srv.maildir("info@example.org").exists(),
                         "an alias must not get a Maildir of its own")

    def test_single_target_alias_251(self):
        srv = servers["users"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            c.expect("251 2.1.5", "RCPT TO:<sales@example.org>")
            c.expect("354", "DATA")
            body = headers("sales") + b"to sales\r\n"
            c.send(body + b".\r\n")
            qid = h.queued_id(c.reply())
        md = srv.maildir("alice@example.org")
        found = [m for m in h.wait_messages(md, 1) if h.read_stored(m).queue_id == qid]
        self.assertEqual(len(found), 1, h.maildir_messages(md))
        self.assertEqual(h.read_stored(found[0]).content, h.wire_to_stored(body))
        self.assertFalse(srv.maildir("sales@example.org").exists())

    def test_unknown_user(self):
        srv = servers["users"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            c.expect("550 5.1.1", "RCPT TO:<nobody@example.org>")
            c.expect("550 5.1.1", "RCPT TO:<nobody@localhost>")
            c.expect("250", "RCPT TO:<user@localhost>")
            c.expect("250", "RCPT TO:<info@example.org>")
            c.expect("354", "DATA")
            c.send(headers("users") + b"x\r\n.\r\n")
            h.queued_id(c.reply())
        self.assertFalse(srv.maildir("nobody@example.org").exists())
        self.assertFalse(srv.maildir("nobody@localhost").exists())
        self.assertEqual(len(h.wait_messages(srv.maildir("user@localhost"), 1)), 1)

    def test_relay_denied(self):
        srv = servers["open"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            c.expect("554 5.7.1", "RCPT TO:<victim@relay.example>")
            c.expect("554 5.7.1", "RCPT TO:<victim@sub.example.org>")
            # No valid recipient: DATA must not start a transaction (RFC 5321 §3.3).
            r = c.cmd("DATA")
            self.assertIn(r.code, (503, 554), r.text)
            c.expect("250", "RSET")
        self.assertFalse((srv.mail_root / "relay.example").exists())
        self.assertFalse((srv.mail_root / "sub.example.org").exists())

    def test_8bitmime_byte_exact(self):
        srv = servers["open"]
        rnd = random.Random(8)
        high = bytes(b for b in range(0x80, 0x100))
        lines = [b"Caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa6 Taube", high, high[::-1],
                 bytes(rnd.randrange(0x20, 0x100) for _ in range(200)).replace(b"\x7f", b"x")]
        msg = headers("8bit") + b"\r\n".join(lines) + b"\r\n"
        qid = send_one(srv, "eight@localhost", ["eight@localhost"], msg,
                       mail_options=["BODY=8BITMIME"])
        self.assert_single_stored(srv, "eight@localhost", h.wire_to_stored(msg),
                                  "eight@localhost", qid, for_rcpt="eight@localhost")

    def test_smtputf8_accepted(self):
        srv = servers["open"]
        local = "jörg.ünïcode"
        with srv.client() as c:
            c.greet()
            c.expect("250", f"MAIL FROM:<sénder@localhost> SMTPUTF8".encode())
            c.expect("250", f"RCPT TO:<{local}@localhost>".encode())
            c.expect("354", "DATA")
            body = "Subject: Grüße\r\n\r\nÜmlaut body\r\n".encode()
            c.send(body + b".\r\n")
            qid = h.queued_id(c.reply())
        md = srv.mail_root / "localhost" / local
        msgs = h.wait_messages(md, 1)
        self.assertEqual(len(msgs), 1, f"nothing under {md}; tree {h.all_maildirs(srv.mail_root)}")
        st = h.read_stored(msgs[0])
        self.assertEqual(st.return_path, "sénder@localhost")
        self.assertEqual(st.queue_id, qid)
        self.assertEqual(st.content, h.wire_to_stored(body))

    def test_utf8_address_without_smtputf8(self):
        srv = servers["open"]
        with srv.client() as c:
            c.greet()
            c.expect("553 5.6.7", "MAIL FROM:<sénder@localhost>".encode())
            c.expect("250", "MAIL FROM:<plain@localhost>")
            c.expect("553 5.6.7", "RCPT TO:<jörg@localhost>".encode())
            c.expect("250", "RSET")
        self.assertFalse((srv.mail_root / "localhost" / "jörg").exists())

    def test_dot_stuffing_round_trip(self):
        srv = servers["open"]
        body_lines = [b".leading dot", b"..two dots", b".", b"..", b"...", b" .", b"end."]
        msg = headers("dots") + b"\r\n".join(body_lines) + b"\r\n"
        # smtplib stuffs itself ...
        qid = send_one(srv, "dots@localhost", ["dots1@localhost"], msg)
        self.assert_single_stored(srv, "dots1@localhost", h.wire_to_stored(msg),
                                  "dots@localhost", qid, for_rcpt="dots1@localhost")
        # ... and the raw client checks the exact stuffed bytes on the wire.
        with srv.client() as c:
            c.greet()
            stuffed = h.dot_stuff(msg)
            self.assertIn(b"\r\n..\r\n", stuffed)
            qid2 = h.queued_id(c.send_message("dots@localhost", ["dots2@localhost"], stuffed))
        self.assert_single_stored(srv, "dots2@localhost", h.wire_to_stored(msg),
                                  "dots@localhost", qid2, for_rcpt="dots2@localhost")

    def test_one_mib_random_text_byte_exact(self):
        # Its own server: large messages take the streaming path, so a crash there must not
        # take the shared server (and every later test) down with it.
        srv = h.Taube({"limits": {"max_message_size": MAX_SIZE_OPEN}})
        self.addCleanup(srv.cleanup)
        rnd = random.Random(1234)
        alphabet = bytes(range(0x20, 0x7f)) + b"\t"
        lines, size = [], 0
        while size < 1 << 20:
            n = rnd.choice([0, 1, 2, 60, 76, 78, 500, 998, rnd.randrange(0, 999)])
            line = bytes(rnd.choice(alphabet) for _ in range(n))
            if rnd.random() < 0.05:
                line = b"." + line[:997]
            lines.append(line)
            size += len(line) + 2
        msg = headers("onemib") + b"\r\n".join(lines) + b"\r\n"
        t0 = time.monotonic()
        qid = send_one(srv, "big@localhost", ["big@localhost"], msg)
        elapsed = time.monotonic() - t0
        self.assert_single_stored(srv, "big@localhost", h.wire_to_stored(msg), "big@localhost",
                                  qid, for_rcpt="big@localhost")
        self.assertLess(elapsed, 20, "1 MiB over loopback should take well under 20 s")
        srv.stop()

    def test_rset_mid_transaction(self):
        srv = servers["open"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<r@localhost>")
            c.expect("250", "RCPT TO:<rset-dropped@localhost>")
            c.expect("250", "RSET")
            c.expect("503 5.5.1", "RCPT TO:<rset-dropped@localhost>")
            c.expect("503", "DATA")
            body = headers("rset") + b"after rset\r\n"
            qid = h.queued_id(c.send_message("r2@localhost", ["rset-kept@localhost"], body))
        self.assertFalse(srv.maildir("rset-dropped@localhost").exists())
        self.assert_single_stored(srv, "rset-kept@localhost", h.wire_to_stored(body),
                                  "r2@localhost", qid, for_rcpt="rset-kept@localhost")

    def test_vrfy_expn_help_noop_quit(self):
        with servers["open"].client() as c:
            c.greet()
            c.expect("252 2.5.2", "VRFY alice@example.org")
            r = c.expect("502", "EXPN info@example.org")
            self.assertNotIn("alice", r.text)
            r = c.cmd("HELP")
            self.assertEqual(r.code, 214, r.text)
            c.expect("250", "NOOP")
            c.expect("250", "NOOP with an argument")
            c.expect("221", "QUIT")
            self.assertTrue(c.is_closed(), "server must close the connection after 221")

    def test_smtplib_helpers(self):
        with smtp() as s:
            self.assertEqual(s.noop()[0], 250)
            self.assertEqual(s.verify("alice@example.org")[0], 252)
            self.assertEqual(s.expn("info@example.org")[0], 502)
            self.assertEqual(s.docmd("HELP")[0], 214)
            self.assertEqual(s.rset()[0], 250)


class Limits(Base):
    def test_size_at_mail(self):
        with servers["limits"].client() as c:
            c.greet()
            c.expect("552 5.3.4", f"MAIL FROM:<s@localhost> SIZE={MAX_SIZE_SMALL + 1}")
            c.expect("250", f"MAIL FROM:<s@localhost> SIZE={MAX_SIZE_SMALL}")
            c.expect("250", "RSET")
            # 20 digits is the longest size-value (RFC 1870) and overflows 64 bits.
            c.expect("552 5.3.4", "MAIL FROM:<s@localhost> SIZE=99999999999999999999")

    def test_size_while_receiving(self):
        srv = servers["limits"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            c.expect("250", "RCPT TO:<toobig@localhost>")
            c.expect("354", "DATA")
            line = b"y" * 98 + b"\r\n"
            # 3x the limit, including lines that look like commands: they must be swallowed.
            big = headers("toobig") + line * (3 * MAX_SIZE_SMALL // 100) + \
                b"RSET\r\nQUIT\r\n" + line * 10
            c.send(big + b".\r\n")
            c.expect("552 5.3.4")
            # Still in sync: the next reply is for this NOOP.
            c.expect("250", "NOOP")
            small = headers("small") + b"fits\r\n"
            qid = h.queued_id(c.send_message("s@localhost", ["fits@localhost"], small))
        self.assertFalse(srv.maildir("toobig@localhost").exists(),
                         "nothing may be stored for a rejected message")
        self.assertEqual(h.tmp_leftovers(srv.mail_root), [])
        self.assert_single_stored(srv, "fits@localhost", h.wire_to_stored(small),
                                  "s@localhost", qid, for_rcpt="fits@localhost")

    def test_size_smtplib(self):
        srv = servers["limits"]
        with smtplib.SMTP(h.HOST, srv.port, local_hostname="client.test", timeout=15) as s:
            with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
                # smtplib adds SIZE=<len> itself because SIZE is advertised.
                s.sendmail("s@localhost", ["sm@localhost"], b"x" * (MAX_SIZE_SMALL * 2))
            self.assertEqual(cm.exception.smtp_code, 552)
        self.assertFalse(srv.maildir("sm@localhost").exists())

    def test_too_many_recipients(self):
        srv = servers["limits"]
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<s@localhost>")
            for i in range(MAX_RCPTS):
                c.expect("250", f"RCPT TO:<many{i}@localhost>")
            c.expect("452 4.5.3", f"RCPT TO:<many{MAX_RCPTS}@localhost>")
            c.expect("452 4.5.3", f"RCPT TO:<many{MAX_RCPTS + 1}@localhost>")
            c.expect("354", "DATA")
            c.send(headers("many") + b"x\r\n.\r\n")
            qid = h.queued_id(c.reply())
        for i in range(MAX_RCPTS):
            msgs = h.wait_messages(srv.maildir(f"many{i}@localhost"), 1)
            self.assertEqual(len(msgs), 1)
            self.assertEqual(h.read_stored(msgs[0]).queue_id, qid)
        self.assertFalse(srv.maildir(f"many{MAX_RCPTS}@localhost").exists())
        self.assertFalse(srv.maildir(f"many{MAX_RCPTS + 1}@localhost").exists())

    def test_too_many_errors(self):
        with servers["limits"].client() as c:
            c.greet()
            replies = []
            for i in range(MAX_ERRORS + 1):
                try:
                    r = c.cmd(f"BOGUS{i}")
                except (h.ConnectionClosed, BrokenPipeError, ConnectionResetError):
                    break
                replies.append(r)
                if r.code == 421:
                    break
            codes = [r.last for r in replies]
            # Errors 1 .. N-1 are ordinary; by the (N+1)th command the server has given up.
            for r in replies[:MAX_ERRORS - 1]:
                self.assertTrue(r.last.startswith("500 5.5.1"), codes)
            self.assertTrue(replies and replies[-1].code == 421, f"no 421 after "
                            f"{MAX_ERRORS} errors: {codes}")
            self.assertGreaterEqual(len(replies), MAX_ERRORS, codes)
            self.assertTrue(c.is_closed(), "connection must be closed after 421")

    def test_errors_counter_is_per_connection(self):
        srv = servers["limits"]
        for _ in range(2):
            with srv.client() as c:
                c.greet()
                for i in range(MAX_ERRORS - 1):
                    c.expect("500", f"BOGUS{i}")
                c.expect("250", "NOOP")


class Timeout(unittest.TestCase):
    def test_idle_timeout(self):
        srv = h.Taube({"limits": {"command_timeout": 1}})
        try:
            with srv.client() as c:
                c.greet()
                c.expect("250", "NOOP")
                t0 = time.monotonic()
                c.sock.settimeout(10)
                r = c.reply()
                elapsed = time.monotonic() - t0
                self.assertTrue(r.last.startswith("421 4.4.2"), r.text)
                self.assertGreater(elapsed, 0.7, "timed out too early")
                self.assertLess(elapsed, 5, "idle timeout of 1 s took too long")
                self.assertTrue(c.is_closed(), "connection must be closed after 421 4.4.2")
            # A fractional timeout that is not yet due must not fire.
            with srv.client() as c:
                c.greet()
                for _ in range(4):
                    time.sleep(0.5)
                    c.expect("250", "NOOP")
        finally:
            try:
                srv.stop()
            finally:
                srv.cleanup()


if __name__ == "__main__":
    h.main()

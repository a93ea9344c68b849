"""CHUNKING (RFC 3030): BDAT over a raw socket against the real binary."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

MAX_SIZE = 5000
servers: dict[str, h.Taube] = {}


def setUpModule():
    servers["main"] = h.Taube()
    servers["small"] = h.Taube({"limits": {"max_message_size": MAX_SIZE}})


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


class Bdat(unittest.TestCase):
    srv: h.Taube

    @classmethod
    def setUpClass(cls):
        cls.srv = servers["main"]

    def start(self, rcpt, c=None):
        c = c or self.srv.client()
        c.greet()
        c.expect("250", "MAIL FROM:<bdat@localhost>")
        c.expect("25", f"RCPT TO:<{rcpt}>")
        return c

    def stored_one(self, rcpt, qid):
        md = self.srv.maildir(rcpt)
        msgs = h.wait_messages(md, 1)
        self.assertEqual(len(msgs), 1, f"{md}: {msgs}")
        self.assertEqual(h.maildir_tmp(md), [])
        st = h.read_stored(msgs[0])
        self.assertEqual(st.queue_id, qid)
        self.assertEqual(st.return_path, "bdat@localhost")
        self.assertEqual(st.r["for"], rcpt)
        return st

    def test_chunking_advertised(self):
        with self.srv.client() as c:
            r = c.greet()
            kws = [l[4:].split()[0].upper() for l in r.lines[1:] if l[4:].strip()]
            self.assertIn(b"CHUNKING", kws, r.text)

    def test_single_last_chunk(self):
        body = b"Subject: one chunk\r\n\r\nHello BDAT\r\n"
        with self.start("one@localhost") as c:
            c.send(b"BDAT %d LAST\r\n" % len(body) + body)
            qid = h.queued_id(c.reply())
            c.expect("221", "QUIT")
        self.assertEqual(self.stored_one("one@localhost", qid).content, b"Subject: one chunk\n\n"
                         b"Hello BDAT\n")

    def test_several_chunks_split_everywhere(self):
        body = (b"Subject: chunks\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(50)))
        # Cut points chosen so that one chunk ends with CR and the next begins with LF.
        cr_at = body.index(b"\r\n", 30) + 1
        cuts = [0, 7, cr_at, cr_at + 1, 200, len(body)]
        with self.start("chunks@localhost") as c:
            for a, b in zip(cuts, cuts[1:]):
                r = c.bdat(body[a:b])
                self.assertTrue(r.last.startswith("250"), r.text)
            qid = h.queued_id(c.cmd("BDAT 0 LAST"))
        self.assertEqual(self.stored_one("chunks@localhost", qid).content,
                         body.replace(b"\r\n", b"\n"))

    def test_zero_chunks_in_the_middle(self):
        body = b"Subject: zero\r\n\r\nz\r\n"
        with self.start("zero@localhost") as c:
            self.assertTrue(c.bdat(b"").last.startswith("250"))
            self.assertTrue(c.bdat(body).last.startswith("250"))
            self.assertTrue(c.bdat(b"").last.startswith("250"))
            qid = h.queued_id(c.bdat(b"", last=True))
        self.assertEqual(self.stored_one("zero@localhost", qid).content,
                         b"Subject: zero\n\nz\n")

    def test_dots_are_data_not_terminators(self):
        body = (b"Subject: dots\r\n\r\n.leading\r\n..two\r\n.\r\nafter the dot line\r\n"
                b"MAIL FROM:<evil@example.com>\r\n.\r\n")
        with self.start("dots@localhost") as c:
            c.send(b"BDAT %d LAST\r\n" % len(body) + body)
            qid = h.queued_id(c.reply())
            c.expect("250", "NOOP")
        self.assertEqual(self.stored_one("dots@localhost", qid).content,
                         body.replace(b"\r\n", b"\n"), "BDAT content is never unstuffed")

    def test_bdat_without_mail_consumes_chunk(self):
        chunk = b"RSET\r\nRSET\r\n"
        with self.srv.client() as c:
            c.greet()
            c.send(b"BDAT %d\r\n" % len(chunk) + chunk)
            r = c.reply()
            self.assertTrue(r.last.startswith("503"), r.text)
            # If the chunk had been read as commands, two 250s would come before 214.
            r = c.cmd("HELP")
            self.assertEqual(r.code, 214, f"chunk was not consumed: {r.text}")
            c.expect("250", "MAIL FROM:<after@localhost>")

    def test_bdat_without_rcpt(self):
        with self.srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<bdat@localhost>")
            c.send(b"BDAT 6 LAST\r\nNOOP\r\n")
            r = c.reply()
            self.assertTrue(r.last.startswith("503") or r.last.startswith("554"), r.text)
            c.expect("214", "HELP")

    def test_data_after_bdat(self):
        with self.start("mixed@localhost") as c:
            self.assertTrue(c.bdat(b"hello").last.startswith("250"))
            c.expect("503", "DATA")
            c.expect("250", "RSET")
        self.assertFalse(self.srv.maildir("mixed@localhost").exists())

    def test_bdat_pipelined_with_commands(self):
        m1 = b"Subject: p1\r\n\r\nfirst\r\n"
        m2 = b"Subject: p2\r\n\r\nsecond\r\n"
        with self.srv.client() as c:
            c.greet()
            c.send(b"MAIL FROM:<bdat@localhost>\r\nRCPT TO:<pipe-a@localhost>\r\n"
                   b"BDAT %d LAST\r\n" % len(m1) + m1 +
                   b"MAIL FROM:<bdat@localhost>\r\nRCPT TO:<pipe-b@localhost>\r\n"
                   b"BDAT 4\r\n" + m2[:4] + b"BDAT %d LAST\r\n" % (len(m2) - 4) + m2[4:] +
                   b"NOOP\r\nQUIT\r\n")
            rs = c.replies(9)
            self.assertEqual([r.code for r in rs], [250] * 8 + [221], [r.last for r in rs])
            self.assertTrue(rs[5].last.startswith("250 2.0.0"), rs[5].text)
            q1, q2 = h.queued_id(rs[2]), h.queued_id(rs[6])
            self.assertNotEqual(q1, q2)
            self.assertTrue(c.is_closed())
        self.assertEqual(self.stored_one("pipe-a@localhost", q1).content,
                         b"Subject: p1\n\nfirst\n")
        self.assertEqual(self.stored_one("pipe-b@localhost", q2).content,
                         b"Subject: p2\n\nsecond\n")

    def test_bdat_bad_syntax_closes(self):
        # Without a valid size the chunk cannot be skipped, so its octets could only be read as
        # commands: Taube answers 501 and closes with 421 (see ServerSession::on_bdat).
        for bad in ("BDAT", "BDAT abc", "BDAT 5 FIRST", "BDAT -1", "BDAT 1x LAST"):
            with self.subTest(bad):
                with self.start("syntax@localhost") as c:
                    c.send(bad + "\r\nNOOP\r\n")
                    c.expect("501")
                    c.expect("421")
                    self.assertTrue(c.is_closed())
        self.assertFalse(self.srv.maildir("syntax@localhost").exists())

    def test_bdat_over_size_limit(self):
        srv = servers["small"]
        cases = {
            "first chunk over the limit, LAST": [(b"x" * (2 * MAX_SIZE), True)],
            "first chunk over the limit": [(b"x" * (2 * MAX_SIZE), False)],
            "second chunk crosses the limit": [(b"x" * 3000, False), (b"y" * 3000, True)],
            "limit + 1 in one LAST chunk": [(b"z" * (MAX_SIZE + 1), True)],
        }
        for name, chunks in cases.items():
            with self.subTest(name):
                rcpt = "big-" + name.replace(" ", "-").replace(",", "") + "@localhost"
                with srv.client() as c:
                    c.greet()
                    c.expect("250", "MAIL FROM:<bdat@localhost>")
                    c.expect("250", f"RCPT TO:<{rcpt}>")
                    replies = [c.bdat(data, last) for data, last in chunks]
                    self.assertTrue(replies[-1].last.startswith("552 5.3.4"),
                                    [r.text for r in replies])
                    # The whole chunk was consumed: the next reply answers NOOP.
                    c.expect("250", "NOOP")
                self.assertFalse(srv.maildir(rcpt).exists())
        self.assertEqual(h.tmp_leftovers(srv.mail_root), [])
        # Exactly at the limit is accepted (practice 11: N and N+1).
        with srv.client() as c:
            c.greet()
            c.expect("250", "MAIL FROM:<bdat@localhost>")
            c.expect("250", "RCPT TO:<exact@localhost>")
            h.queued_id(c.bdat(b"w" * MAX_SIZE, last=True))

if __name__ == "__main__":
    h.main()

#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (see docs/fuzzing.md).

Each seed starts with the option byte(s) the target reads (byte 0: options; byte 1, where the
target has one: the split seed and, for fuzz_session, the channel policy). Re-run after editing;
files are named after their content's purpose, so the output is stable. Regression inputs found
by fuzzing live next to the seeds as regress-*; this script does not touch them.
"""
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


# ---------------------------------------------------------------- fuzz_command_line
lines = {
    "ehlo": "EHLO client.example",
    "helo-tab": "helo\tclient.example",
    "mail": "MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME",
    "mail-space": "mail from: <alice@example.com>",
    "mail-null": "MAIL FROM:<>",
    "rcpt": "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE",
    "data": "DATA",
    "bdat": "BDAT 1024 LAST",
    "quit": "QUIT",
    "noop-arg": "NOOP  keep  going  ",
    "vrfy": "VRFY postmaster",
    "starttls": "STARTTLS",
    "auth-plain": "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "sasl-line": "dXNlcm5hbWU=",
    "unknown": "XCLIENT ADDR=1.2.3.4",
    "nul": "MAIL\x00FROM:<a@b>",
    "del": "NOOP\x7f",
    "utf8-arg": "RCPT TO:<δοκιμή@παράδειγμα.δοκιμή>",
    "long-verb": "ABCDEFGHIJKLMNOPQRSTUVWXYZ x",
}
for i, (name, line) in enumerate(lines.items()):
    write("fuzz_command_line", name, bytes([i % 4]) + b(line))

# ---------------------------------------------------------------- fuzz_path
# byte 0: bit0 forward path, bit1 SMTPUTF8, bit2 small limits, bit3 HELO, bit4 no DSN,
# bit5 no SMTPUTF8/8BITMIME, bit6 AUTH advertised
paths = [
    ("mail-params", 0x00, "<alice@example.com> SIZE=1000 BODY=8BITMIME SMTPUTF8"),
    ("mail-dsn", 0x00, "<alice@example.com> RET=HDRS ENVID=QQ+2B1+3DX"),
    ("mail-auth", 0x40, "<alice@example.com> AUTH=<> SIZE=0"),
    ("null", 0x00, "<>"),
    ("null-params", 0x00, "<> BODY=7BIT"),
    ("postmaster", 0x01, "<Postmaster>"),
    ("postmaster-domain", 0x01, "<postmaster@example.com>"),
    ("rcpt-dsn", 0x01, "<bob@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;bob+40example.org"),
    ("rcpt-never", 0x01, "<bob@example.org> NOTIFY=NEVER"),
    ("rcpt-utf8-orcpt", 0x03, "<bob@example.org> ORCPT=utf-8;b\\x{00F6}b@example.org"),
    ("quoted", 0x01, '<"john q. public"@example.com>'),
    ("quoted-escape", 0x01, '<"a\\"b\\\\c"@example.com>'),
    ("quoted-gt", 0x01, '<"a>b"@example.com>'),
    ("source-route", 0x01, "<@hop1.example,@[192.0.2.7]:user@dest.example>"),
    ("source-route-pm", 0x01, "<@hop1.example:postmaster>"),
    ("literal-v4", 0x01, "<user@[192.0.2.1]>"),
    ("literal-v6", 0x01, "<user@[IPv6:2001:db8::1]>"),
    ("literal-v6-v4", 0x01, "<user@[IPv6:::ffff:192.0.2.1]>"),
    ("literal-general", 0x01, "<user@[x-tag:abc]>"),
    ("utf8", 0x03, "<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8"),
    ("utf8-no-smtputf8", 0x01, "<δοκιμή@παράδειγμα.δοκιμή>"),
    ("bare", 0x01, "bob@example.org NOTIFY=FAILURE"),
    ("helo-params", 0x08, "<a@b.example> SIZE=10"),
    ("long-local", 0x05, "<" + "a" * 70 + "@example.com>"),
    ("long-domain", 0x01, "<a@" + ".".join(["label%02d" % i for i in range(40)]) + ".example>"),
    ("dots", 0x01, "<a..b@example.com>"),
    ("params-dup", 0x00, "<a@b.example> SIZE=1 size=2"),
    ("param-binary", 0x00, "<a@b.example> BODY=BINARYMIME"),
]
for name, opt, text in paths:
    write("fuzz_path", name, bytes([opt]) + b(text))

# ---------------------------------------------------------------- fuzz_dot_decoder
# byte 0: bits0-1 policy (Reject, Normalize, Note, Reject), bit2 small max_size, bit3
# reject_long_lines, bit4 small max_line. byte 1: split seed.
body = "From: a@example.com\r\nSubject: test\r\n\r\nHello\r\n"
dots = [
    ("simple", 0x00, body + ".\r\n"),
    ("stuffed", 0x00, "..leading dot\r\n...two\r\n.\r\n"),
    ("empty", 0x00, ".\r\n"),
    ("empty-then-cmd", 0x00, ".\r\nQUIT\r\n"),
    ("crlf-then-end", 0x00, "\r\n.\r\n"),
    ("smuggle-lf", 0x00, "a\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
    ("smuggle-lf-norm", 0x01, "a\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
    ("smuggle-cr", 0x02, "a\r.\rMAIL FROM:<x@y>\r\n.\r\n"),
    ("smuggle-lf-crlf", 0x01, "a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n"),
    ("smuggle-crlf-lf", 0x02, "a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n"),
    ("dot-cr-x", 0x02, "a\r\n.\rx\r\n.\r\n"),
    ("cr-cr-lf", 0x01, "a\r\r\n.\r\n"),
    ("too-big", 0x04 | 0x20, "x" * 200 + "\r\n.\r\n"),
    ("limit-edge", 0x04 | 0x40, "y" * 38 + "\r\n.\r\n"),
    ("long-line", 0x18, "z" * 40 + "\r\nshort\r\n.\r\n"),
    ("long-line-note", 0x12, "z" * 40 + "\r\n.\r\n"),
    ("unterminated", 0x00, body + "no end"),
    ("unterminated-cr", 0x00, body + "\r"),
]
for i, (name, opt, text) in enumerate(dots):
    write("fuzz_dot_decoder", name, bytes([opt, (i * 37) & 0xFF]) + b(text))

# ---------------------------------------------------------------- fuzz_bdat_decoder
# byte 0: bit0 small max_size (opt >> 1); byte 1: split seed; then [len][len octets]...


def chunks(*parts):
    out = b""
    for p in parts:
        p = b(p)
        out += bytes([len(p)]) + p
    return out


bdats = [
    ("one", 0x00, chunks(body)),
    ("two", 0x00, chunks("line one\r\nline", " two\r\n")),
    ("crlf-split", 0x00, chunks("abc\r", "\ndef\r\n")),
    ("cr-last", 0x00, chunks("abc\r")),
    ("cr-cr", 0x00, chunks("a\r", "\r", "\n")),
    ("empty-chunk", 0x00, chunks("", "data\r\n", "")),
    ("dots", 0x00, chunks(".\r\n..\r\n", ".\r\n")),
    ("too-big", 0x01 | (20 << 1), chunks("0123456789", "0123456789", "0")),
    ("short-last", 0x00, bytes([200]) + b"only a few octets\r\n"),
]
for i, (name, opt, data) in enumerate(bdats):
    write("fuzz_bdat_decoder", name, bytes([opt, (i * 53) & 0xFF]) + data)

# ---------------------------------------------------------------- fuzz_session
# byte 0: bits0-1 policy, bit2 small limits, bit3 reject_long_lines, bit4 VRFY lookups,
# bit5 EXPN+ETRN, bit6 no HELO required, bit7 48-octet command lines.
# byte 1: split seed + verdict order (bits 0,1,7) + channel (bit2 STARTTLS, bit3 AUTH,
# bit4 TLS required, bit5 AUTH required, bit6 implicit TLS).
C = "\r\n"
ehlo = "EHLO client.example" + C
mail = "MAIL FROM:<alice@example.com>" + C
rcpt = "RCPT TO:<bob@example.org>" + C
msg = "Subject: hi" + C + C + "..dot-stuffed" + C + "body" + C + "." + C
sessions = [
    ("dialog", 0x00, 0x03, ehlo + mail + rcpt + "DATA" + C + msg + "QUIT" + C),
    ("pipelined", 0x00, 0x00, ehlo + mail + rcpt + rcpt + "RCPT TO:<carol@example.org>" + C
     + "DATA" + C + msg + mail + rcpt + "DATA" + C + msg + "QUIT" + C),
    ("helo", 0x00, 0x01, "HELO client.example" + C + "MAIL FROM:<a@b.example> SIZE=10" + C
     + mail + rcpt + "DATA" + C + msg + "QUIT" + C),
    ("bdat", 0x00, 0x01, ehlo + mail + rcpt + "BDAT 12" + C + "Subject: x\r\n"
     + "BDAT 7 LAST" + C + "\r\nbody\n" + "QUIT" + C),
    ("bdat-cr-split", 0x00, 0x03, ehlo + mail + rcpt + "BDAT 3" + C + "ab\r" + "BDAT 3 LAST" + C
     + "\ncd" + mail + rcpt + "BDAT 0 LAST" + C + "QUIT" + C),
    ("bdat-refused", 0x00, 0x00, ehlo + "BDAT 5" + C + "xxxxx" + mail + "BDAT 4 LAST" + C
     + "yyyy" + "BDAT x" + C + "QUIT" + C),
    ("data-after-bdat", 0x00, 0x01, ehlo + mail + rcpt + "BDAT 2" + C + "ab" + "DATA" + C
     + "RSET" + C + "QUIT" + C),
    ("smuggle-lf", 0x00, 0x01, ehlo + mail + rcpt + "DATA" + C + "a\n.\n" + mail + rcpt
     + "DATA" + C + "smuggled\r\n.\r\n" + "QUIT" + C),
    ("smuggle-lf-normalize", 0x01, 0x01, ehlo + mail + rcpt + "DATA" + C + "a\n.\n" + mail
     + "x\r\n.\r\n" + "QUIT" + C),
    ("smuggle-cr-note", 0x02, 0x01, ehlo + mail + rcpt + "DATA" + C + "a\r.\r" + mail
     + "x\r.\r\n" + "b\n.\r\n" + "c\r\n.\nQUIT\r\n.\r\nQUIT" + C),
    ("errors", 0x04, 0x00, "MAIL FROM:<a@b>" + C + "BOGUS" + C + "\x00" + C + "RCPT" + C
     + "DATA" + C + "NOOP" + C + "NOOP" + C),
    ("too-many-rcpts", 0x04, 0x01, ehlo + mail + rcpt * 5 + "DATA" + C + msg + "QUIT" + C),
    ("too-big", 0x04, 0x01, ehlo + mail + rcpt + "DATA" + C + "x" * 150 + C + "." + C
     + mail + "MAIL FROM:<a@b.example> SIZE=1000" + C + "QUIT" + C),
    ("size-edge", 0x04, 0x01, ehlo + mail + rcpt + "DATA" + C + "y" * 97 + C + "." + C
     + "QUIT" + C),
    ("bad-newline-then-errors", 0x04, 0x01, ehlo + "XX" + C + "XX" + C + "XX" + C
     + mail + rcpt + "DATA" + C + "bare\nlf" + C + "." + C + "NOOP" + C + "QUIT" + C),
    ("long-lines", 0x88, 0x01, ehlo + "NOOP " + "x" * 100 + C + mail + rcpt + "DATA" + C
     + "t" * 1200 + C + "." + C + "QUIT" + C),
    ("long-text-line", 0x0C, 0x01, ehlo + mail + rcpt + "DATA" + C + "t" * 90 + C + "." + C
     + "QUIT" + C),
    ("vrfy-expn", 0x30, 0x01, ehlo + "VRFY bob" + C + "VRFY <bob@example.org>" + C
     + "EXPN staff" + C + "ETRN example.org" + C + "HELP" + C + "RSET" + C + "NOOP x" + C
     + "QUIT now" + C + "QUIT" + C),
    ("utf8-dsn", 0x00, 0x01, ehlo + "MAIL FROM:<δοκιμή@παράδειγμα.δοκιμή> SMTPUTF8 RET=HDRS "
     "ENVID=ab+2Bcd" + C + "RCPT TO:<ö@例え.jp> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x+40y" + C
     + "RCPT TO:<@a.example,@b.example:bob@example.org>" + C
     + 'RCPT TO:<"john doe"@example.org>' + C + "RCPT TO:<postmaster>" + C + "DATA" + C + msg
     + "QUIT" + C),
    ("utf8-without-param", 0x00, 0x01, ehlo + "MAIL FROM:<δοκιμή@example.com>" + C + mail
     + "RCPT TO:<ö@example.org>" + C + "QUIT" + C),
    ("starttls", 0x00, 0x04 | 0x10, ehlo + mail + "STARTTLS" + C + "MAIL FROM:<inject@x>" + C
     + ehlo + mail + rcpt + "DATA" + C + msg + "QUIT" + C),
    ("auth-plain", 0x00, 0x08 | 0x20 | 0x80, ehlo + mail + "AUTH PLAIN AGFsaWNlAHNlY3JldA==" + C
     + mail + rcpt + "DATA" + C + msg + "AUTH PLAIN =" + C + "QUIT" + C),
    ("auth-login", 0x00, 0x08 | 0x01, ehlo + "AUTH LOGIN" + C + "YWxpY2U=" + C + "c2VjcmV0" + C
     + "AUTH PLAIN" + C + "*" + C + "AUTH PLAIN" + C + "AGFsaWNlAHNlY3JldA==" + C + mail
     + "QUIT" + C),
    # SCRAM-SHA-256: client-first (initial response), client-final, the empty answer to the
    # server signature; then an authzid for another user, and a cancelled exchange.
    ("auth-scram", 0x00, 0x08, ehlo + "AUTH SCRAM-SHA-256 biwsbj1hbGljZSxyPWFiYw==" + C
     + "Yz1iaXdzLHI9YWJjc3J2LHA9Y0hKdmIyWT0=" + C + C + "AUTH SCRAM-SHA-256" + C
     + "bixhPXgsbj1hbGljZSxyPXE=" + C + "AUTH SCRAM-SHA-256" + C + "biwsbj1ib2Iscj1x" + C
     + "*" + C + mail + "QUIT" + C),
    ("no-helo", 0x40, 0x01, mail + rcpt + "DATA" + C + msg + "QUIT" + C),
    ("partial-lines", 0x00, 0x55, "EH" + "LO x" + C + "MAIL FROM:<a@b.example>" + "\n"
     + "RCPT TO:<c@d.example>\r" + "\n" + "DATA\n" + msg + "QUI"),
]
for name, opt, seed, text in sessions:
    write("fuzz_session", name, bytes([opt, seed]) + b(text))

# ---------------------------------------------------------------- fuzz_proxy
# byte 0: bit0 64-octet v2 limit, bit1 no CRC32c check, bit2 v1 refused, bit3 v2 refused,
# bits 4-7 which prefixes are sampled. The rest: the connection's first octets (a header and
# what follows it, such as a TLS ClientHello or an EHLO).
def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(ver_cmd, fam, body):
    return V2SIG + bytes([ver_cmd, fam]) + len(body).to_bytes(2, "big") + body


def tlv(t, value):
    return bytes([t]) + len(value).to_bytes(2, "big") + value


def with_crc(header, at):
    c = crc32c(header)
    return header[:at] + c.to_bytes(4, "big") + header[at + 4:]


INET = bytes([192, 0, 2, 1, 198, 51, 100, 25]) + (56324).to_bytes(2, "big") + (25).to_bytes(2, "big")
INET6 = (bytes([0x20, 0x01, 0x0d, 0xb8]) + bytes(11) + b"\x01" + bytes([0x20, 0x01, 0x0d, 0xb8])
         + bytes(11) + b"\x25" + (443).to_bytes(2, "big") + (25).to_bytes(2, "big"))
HELLO = bytes([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03])
EHLO = b"EHLO client.example\r\n"
FULL6 = b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
crc_body = INET + tlv(0x01, b"smtp") + tlv(0x03, bytes(4)) + tlv(0xe0, b"x")
proxies = [
    ("v1-tcp4", 0x00, b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n" + EHLO),
    ("v1-tcp6", 0x10, b"PROXY TCP6 2001:db8::1 2001:db8::25 40000 25\r\n" + HELLO),
    ("v1-tcp6-mapped", 0x20, b"PROXY TCP6 ::ffff:192.0.2.1 ::1 0 65535\r\n"),
    ("v1-tcp6-max", 0x30, b"PROXY TCP6 " + FULL6 + b" " + FULL6 + b" 65535 65535\r\n"),
    ("v1-unknown", 0x00, b"PROXY UNKNOWN\r\n" + EHLO),
    ("v1-unknown-107", 0x40, b"PROXY UNKNOWN " + FULL6 + b" " + FULL6 + b" 65535 65535\r\n"),
    ("v1-108", 0x50, b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n"),
    ("v1-bad-port", 0x00, b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 25\r\n"),
    ("v1-family-mismatch", 0x00, b"PROXY TCP4 2001:db8::1 192.0.2.2 1 25\r\n"),
    ("v1-lf-only", 0x60, b"PROXY TCP4 192.0.2.1 192.0.2.2 1 25\n"),
    ("v1-partial", 0x70, b"PROXY TCP4 192.0.2.1 192.0"),
    ("v1-refused", 0x04, b"PROXY UNKNOWN\r\n"),
    ("v2-ipv4", 0x00, v2(0x21, 0x11, INET) + HELLO),
    ("v2-ipv6", 0x80, v2(0x21, 0x21, INET6) + EHLO),
    ("v2-local", 0x00, v2(0x20, 0x00, b"") + EHLO),
    ("v2-local-block", 0x90, v2(0x20, 0x11, INET)),
    ("v2-unspec", 0x00, v2(0x21, 0x00, b"")),
    ("v2-unix", 0xa0, v2(0x21, 0x31, b"u" * 216 + tlv(0x02, b"mx.example"))),
    ("v2-udp4", 0x00, v2(0x21, 0x12, INET)),
    ("v2-tlvs", 0xb0, v2(0x21, 0x11, INET + tlv(0x01, b"smtp") + tlv(0x02, b"mx.example.org")
                        + tlv(0x04, b"") + tlv(0x05, b"id-1") + tlv(0xe0, b"\x00\x01\x02")
                        + tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3")
                              + tlv(0x22, b"client.example"))) + HELLO),
    ("v2-crc", 0x00, with_crc(v2(0x21, 0x11, crc_body), 16 + 12 + 7 + 3) + EHLO),
    ("v2-crc-bad", 0xc0, v2(0x21, 0x11, crc_body)),
    ("v2-crc-unchecked", 0x02, v2(0x21, 0x11, crc_body)),
    ("v2-truncated-tlv", 0x00, v2(0x21, 0x11, INET + b"\x01\x00")),
    ("v2-tlv-overrun", 0xd0, v2(0x21, 0x11, INET + b"\x01\x00\x04sm") + b"tp"),
    ("v2-too-big", 0x00, V2SIG + b"\x21\x11\xff\xff" + INET),
    ("v2-small-limit", 0x01, v2(0x21, 0x11, INET + tlv(0xe0, b"z" * 40))),
    ("v2-bad-version", 0x00, v2(0x11, 0x11, INET)),
    ("v2-bad-command", 0xe0, v2(0x22, 0x11, INET)),
    ("v2-bad-family", 0x00, v2(0x21, 0x41, INET)),
    ("v2-short-block", 0x00, v2(0x21, 0x21, INET)),
    ("v2-refused", 0x08, v2(0x21, 0x11, INET)),
    ("ehlo", 0x00, b"EHLO x\r\n"),
    ("tls-hello", 0xf0, HELLO),
    ("signature-prefix", 0x00, V2SIG[:7]),
]
for name, opt, data in proxies:
    write("fuzz_proxy", name, bytes([opt]) + data)
# ---------------------------------------------------------------- fuzz_reply_parser
# byte 0: bit0 small limits (max_line 4 + bits1-5, max_lines 1 + bits6-7); bytes 1, 2: split
# seeds. Then what a server sends.
R = "\r\n"
replies = [
    ("greeting", 0x00, "220 mx.example.org ESMTP ready" + R),
    ("ehlo", 0x00, "250-mx.example.org Hello [192.0.2.1]" + R + "250-PIPELINING" + R
     + "250-SIZE 52428800" + R + "250-AUTH PLAIN LOGIN" + R + "250-AUTH=LOGIN" + R
     + "250-STARTTLS" + R + "250-ENHANCEDSTATUSCODES" + R + "250 CHUNKING" + R),
    ("pipelined", 0x00, "250 2.1.0 Ok" + R + "250 2.1.5 Ok" + R + "550 5.1.1 unknown" + R
     + "354 End data with <CR><LF>.<CR><LF>" + R + "250 2.0.0 Ok: queued as X" + R),
    ("multi-enhanced", 0x00, "550-5.7.1 first line" + R + "550-5.7.1 second" + R
     + "550 5.7.1 last" + R),
    ("enhanced-first-only", 0x00, "451-4.3.0 a" + R + "451 b" + R),
    ("class-mismatch", 0x00, "250 5.0.0 looks enhanced" + R),
    ("code-only", 0x00, "250" + R + "250-" + R + "250 " + R + "334 " + R),
    ("bare-lf", 0x00, "250-a\n250-b" + R + "250 c\n"),
    ("utf8", 0x00, "550 5.1.1 <ö@example.org> unknown" + R),
    ("code-mismatch", 0x00, "250-a" + R + "251 b" + R),
    ("bad-code", 0x00, "250 ok" + R + "2500 x" + R),
    ("bare-cr", 0x00, "250 a\rb" + R),
    ("nul", 0x00, "250 a\x00b" + R),
    ("long-line", 0x01 | (6 << 1), "250 12345" + R + "250 123456" + R),
    ("many-lines", 0x01 | (1 << 6), "250-a" + R + "250 b" + R + "250-a" + R + "250-b" + R
     + "250 c" + R),
    ("partial", 0x00, "250-mx" + R + "250-PIPE"),
]
for i, (name, opt, text) in enumerate(replies):
    write("fuzz_reply_parser", name, bytes([opt, (i * 41) & 0xFF, (i * 97 + 5) & 0xFF]) + b(text))

# ---------------------------------------------------------------- fuzz_dot_roundtrip
# byte 0: bit0 Bdat mode; byte 1: split seed. Then a stored message (LF line endings).
stored = [
    ("simple", "From: a@example.org\nSubject: hi\n\nbody\n"),
    ("dots", ".\n..\n...x\n.leading\nend\n"),
    ("terminator-text", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"),
    ("lone-cr", "a\r.\rb\r\r\n.\r"),
    ("unterminated", "no final newline"),
    ("empty", ""),
    ("dot-only", "."),
    ("crlf-mixed", "a\r\nb\nc\r\n\r\n.\n"),
]
for i, (name, text) in enumerate(stored):
    for mode in (0, 1):
        write("fuzz_dot_roundtrip", name + ("-bdat" if mode else ""),
              bytes([mode, (i * 29 + mode) & 0xFF]) + b(text))
# ---------------------------------------------------------------- fuzz_sasl
# Byte 0: mechanism (0 PLAIN, 1 LOGIN, 2 SCRAM), 0x04 initial response, 0x08 assisted SCRAM
# (the harness computes the right client-final, the line masks one octet), 0x10 unknown user.
# The rest: decoded client responses separated by LF. The harness's user: "user" / "pencil".
# The fake crypto's first 30 "random" octets are 0..29: server nonce "!\"#$%&'()*+-./0123456789:;<=>?".
SRV_NONCE = "!\"#$%&'()*+-./0123456789:;<=>?"
sasl = [
    ("plain-initial", 0x04, b"\0user\0pencil"),
    ("plain-challenge", 0x00, b"\0user\0pencil"),
    ("plain-wrong", 0x04, b"\0user\0pencil2"),
    ("plain-authzid-self", 0x04, b"user\0user\0pencil"),
    ("plain-authzid-other", 0x04, b"admin\0user\0pencil"),
    ("plain-one-nul", 0x04, b"user\0pencil"),
    ("plain-three-nuls", 0x04, b"\0user\0pen\0cil"),
    ("login", 0x01, b"user\npencil"),
    ("login-initial", 0x05, b"user\npencil"),
    ("login-empty", 0x01, b"\n"),
    ("scram-assisted", 0x0e, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"),
    ("scram-assisted-no-ir", 0x0a, b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO\n"),
    ("scram-assisted-flip", 0x0e, b"n,,n=user,r=abc\n\x05\x01"),
    ("scram-assisted-flip-proof", 0x0e, b"n,,n=user,r=abc\n\x55\x20"),
    ("scram-assisted-unknown", 0x1e, b"n,,n=user,r=abc\n"),
    ("scram-assisted-ghost", 0x0e, b"n,,n=ghost,r=abc\n"),
    ("scram-y", 0x0e, b"y,,n=user,r=abc\n"),
    ("scram-authzid-self", 0x0e, b"n,a=user,n=user,r=abc\n"),
    ("scram-authzid-other", 0x0e, b"n,a=root,n=user,r=abc\n"),
    ("scram-channel-binding", 0x06, b"p=tls-unique,,n=user,r=abc"),
    ("scram-mandatory-ext", 0x06, b"n,,m=x,n=user,r=abc"),
    ("scram-guessed-proof", 0x06, b(
        "n,,n=user,r=abc\nc=biws,r=abc" + SRV_NONCE + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")),
    ("scram-wrong-cbind", 0x06, b(
        "n,,n=user,r=abc\nc=eSws,r=abc" + SRV_NONCE + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")),
    ("scram-escaped-name", 0x06, b"n,,n=us=2Cer=3D,r=abc\n"),
]
for name, opt, data in sasl:
    write("fuzz_sasl", name, bytes([opt]) + data)

# ---------------------------------------------------------------- fuzz_dsn
# Byte 0: options (bit 0 SMTPUTF8, bit 1 RET=FULL, bit 2 ENVID, bits 3-5 first action, bit 6 tiny
# return limit). Then NUL-separated: original message, sender local part, ENVID, and per report
# final recipient, diagnostic, remote MTA. The harness's boundary is "=_fz.q7Kx9".
ORIG = "Received: from client.example\nFrom: Alice <alice@example.org>\nSubject: Hi\n\nBody\n"
dsn = [
    ("failed", 0x00, [ORIG, "alice", "", "bob@remote.test", "550 5.1.1 <bob@remote.test>: user unknown", "mx.remote.test"]),
    ("delayed-envid", 0x0c, [ORIG, "alice", "QQ314159", "carol@slow.test", "connect: Connection timed out", ""]),
    ("ret-full", 0x02, [ORIG, "alice", "", "bob@remote.test", "552 5.2.2 mailbox full", "mx.remote.test"]),
    ("ret-full-tiny-limit", 0x42, [ORIG, "alice", "", "bob@remote.test", "552 5.2.2 full", "mx"]),
    ("utf8", 0x03, ["From: jörg@bücher.example\nSubject: Grüße\n\nHallo\n", "jörg", "", "用户@example.net", "550 5.1.1 用户不存在", "mx.example.net"]),
    ("crlf-injection", 0x04, ["Subject: x\r\nX-A: b\r\n\r\nbody\r\n", "a\r\nBcc: v@x", "id\r\nX-I: 1",
                       "bob@x\r\nBcc: victim@x", "550 no\r\nX-Injected: yes\r\n\r\nAction: delivered", "mx\n\nStatus: 2.0.0"]),
    ("long-reply", 0x00, [ORIG, "alice", "", "bob@remote.test", "550 " + "x" * 2000, "mx." + "y" * 1200]),
    ("long-header", 0x02, ["X-Long: " + "v" * 1500 + "\nSubject: s\n\n" + "b" * 999 + "\n", "alice", "", "b@x", "550 5.0.0 no", "mx"]),
    ("several", 0x08, [ORIG, "alice", "", "a@x.test", "451 4.7.1 later", "mx.x.test", "b@x.test", "250 ok", "",
                       "c@x.test", "550 5.1.1 no", "mx.x.test", "dävid@x.test", "550 5.1.1 nö", "mx"]),
    ("boundary-in-header", 0x00, ["Subject: --=_fz.q7Kx9\n\n", "alice", "", "b@x", "550 no", "mx"]),
    ("boundary-after-cr", 0x02, ["Subject: x\n\n--=_fz\r.q7Kx9--\n", "alice", "", "b@x", "550 no", "mx"]),
    ("boundary-in-reply", 0x00, [ORIG, "alice", "", "b@x", "550 --=_fz.q7Kx9", "mx"]),
    ("empty", 0x00, []),
]
for name, opt, fields in dsn:
    write("fuzz_dsn", name, bytes([opt]) + b"\0".join(b(f) for f in fields))

# ---------------------------------------------------------------- fuzz_client_session
# Byte 0: options (bit 0 LMTP, bits 1-2 TLS policy None/Opportunistic/Required, bit 3 implicit
# TLS, bit 4 credentials, bit 5 plaintext AUTH, bit 6 no BDAT, bit 7 tiny chunks and reply
# limits). Byte 1: split seed; bit 0 handshake fails, bit 1 break during content. Then the
# server's whole reply stream (the harness sends two messages of two recipients each).
G = "220 mx.example ESMTP\r\n"
def ehlo(*ext):
    lines = ["mx.example"] + list(ext)
    return "".join("250%s%s\r\n" % ("-" if i + 1 < len(lines) else " ", l) for i, l in enumerate(lines))
TX_PIPE = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n250 2.1.5 ok\r\n354 go\r\n250 2.0.0 queued\r\n"
TX_ONE = "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"
client = [
    ("pipelined", 0x40, 0x00, G + ehlo("PIPELINING", "SIZE 1000", "8BITMIME", "DSN") + TX_PIPE * 2 + "221 bye\r\n"),
    ("one-at-a-time", 0x40, 0x04, G + ehlo("SIZE") + TX_ONE * 2 + "221 bye\r\n"),
    ("helo-fallback", 0x00, 0x08, G + "500 what\r\n250 mx\r\n" + TX_ONE * 2 + "221 bye\r\n"),
    ("bdat", 0x80, 0x00, G + ehlo("PIPELINING", "CHUNKING") + ("250 ok\r\n" * 3 + "250 chunk\r\n" * 9 + "250 done\r\n") * 2 + "221 bye\r\n"),
    ("partial-rcpt", 0x40, 0x10, G + ehlo("PIPELINING") + "250 ok\r\n550 5.1.1 no\r\n250 ok\r\n354 go\r\n250 ok\r\n" + "250 ok\r\n550 5.1.1 no\r\n550 5.1.1 no\r\n554 5.5.1 none\r\n250 reset\r\n221 bye\r\n"),
    ("lmtp", 0x41, 0x00, G + ehlo("PIPELINING", "ENHANCEDSTATUSCODES") + "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 a\r\n452 4.2.2 full\r\n"),
    ("starttls", 0x02, 0x00, G + ehlo("STARTTLS", "PIPELINING") + "220 go\r\n" + ehlo("PIPELINING", "AUTH PLAIN") + TX_PIPE),
    ("starttls-injection", 0x04, 0x00, G + ehlo("STARTTLS") + "220 go\r\n250-injected\r\n250 x\r\n"),
    ("starttls-required-missing", 0x04, 0x00, G + ehlo("PIPELINING")),
    ("handshake-fails", 0x02, 0x01, G + ehlo("STARTTLS") + "220 go\r\n"),
    ("auth-plain", 0x30, 0x00, G + ehlo("AUTH PLAIN LOGIN", "PIPELINING") + "235 2.7.0 ok\r\n" + TX_PIPE),
    ("auth-login", 0x30, 0x00, G + ehlo("AUTH LOGIN") + "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 ok\r\n" + TX_ONE),
    ("auth-scram-bogus", 0x30, 0x00, G + ehlo("AUTH SCRAM-SHA-256") + "334 cj1mYWtlLHM9UVNYQ1IrUTZzZWs4YmY5MixpPTQwOTY=\r\n334 dj1iYWQ=\r\n235 ok\r\n"),
    ("auth-refused", 0x30, 0x00, G + ehlo("AUTH PLAIN") + "535 5.7.8 no\r\n"),
    ("421-mid", 0x40, 0x00, G + ehlo("PIPELINING") + "250 ok\r\n250 ok\r\n421 4.3.2 bye\r\n"),
    ("lost-after-dot", 0x40, 0x00, G + ehlo("PIPELINING") + "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
    ("break-in-content", 0x40, 0x02, G + ehlo("PIPELINING") + "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
    ("bad-replies", 0x80, 0x00, G + "250-mx\r\n251 mismatch\r\n"),
    ("greeting-554", 0x00, 0x00, "554 5.7.1 no service\r\n"),
    ("size-refused", 0x40, 0x00, G + ehlo("SIZE 10") + "221 bye\r\n"),
    ("all-refused-354", 0x40, 0x00, G + ehlo("PIPELINING") + "250 ok\r\n550 no\r\n550 no\r\n354 go\r\n554 none\r\n250 ok\r\n" * 2),
]
for name, opt, seed, text in client:
    write("fuzz_client_session", name, bytes([opt, seed]) + b(text))

# ---------------------------------------------------------------- fuzz_http_request
# byte 0: bit0 small limits (64/16), bit1 tiny limits (16/0); byte 1: split seed. The rest is
# what a client sends the metrics listener.
GET = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9154\r\nUser-Agent: Prometheus/2.42.0\r\n" \
      "Accept: text/plain;version=0.0.4;q=1,*/*;q=0.1\r\n\r\n"
http = [
    ("scrape", 0x00, GET),
    ("healthz-10", 0x00, "GET /healthz HTTP/1.0\r\n\r\n"),
    ("keep-alive-10", 0x00, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
    ("close-11", 0x00, "GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n"),
    ("pipelined", 0x00, GET + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + GET),
    ("query", 0x00, "GET /metrics?name%5B%5D=taube_up&x=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("absolute-uri", 0x00, "GET http://127.0.0.1:9154/metrics HTTP/1.1\r\n\r\n"),
    ("post-body", 0x00, "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
    ("chunked", 0x00, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
    ("head", 0x00, "HEAD /metrics HTTP/1.1\r\n\r\n"),
    ("folded-header", 0x00, "GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\r\n"),
    ("bare-lf", 0x00, "GET / HTTP/1.1\nHost: x\n\n"),
    ("http2-preface", 0x00, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
    ("version-12", 0x00, "GET / HTTP/1.2\r\n\r\n"),
    ("version-09", 0x00, "GET /\r\n\r\n"),
    ("garbage", 0x00, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    ("smtp", 0x00, "EHLO client.example\r\nMAIL FROM:<a@b>\r\n"),
    ("long-header", 0x01, "GET / HTTP/1.1\r\nX-Fill: " + "a" * 80 + "\r\n\r\n"),
    ("limit-edge", 0x01, "GET /metrics HTTP/1.1\r\nHost: " + "h" * 29 + "\r\n\r\n"),
    ("big-body", 0x01, "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n" + "b" * 17),
    ("chunked-big", 0x01, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "10\r\n" + "c" * 16 + "\r\n1\r\nd\r\n0\r\n\r\n"),
    ("tiny-body", 0x02, "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"),
    ("both-lengths", 0x00, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked"
                           "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    ("dup-length", 0x00, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    ("incomplete", 0x00, "GET /metrics HTTP/1.1\r\nHost: 127.0"),
    ("nul-in-target", 0x00, "GET /me\x00trics HTTP/1.1\r\n\r\n"),
]
for i, (name, opt, text) in enumerate(http):
    write("fuzz_http_request", name, bytes([opt, (i * 41) & 0xFF]) + b(text))

total = 0
for dirpath, _, files in os.walk(ROOT):
    for f in files:
        total += os.path.getsize(os.path.join(dirpath, f))
print("corpus: %d bytes" % total, file=sys.stderr)

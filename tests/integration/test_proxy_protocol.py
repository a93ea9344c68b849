"""The PROXY protocol (v1 and v2) on Taube's listeners, behind a real HAProxy.

A private haproxy (its own config file in a temp dir, foreground, `mode tcp`, loopback ports
only; never the system one) forwards to Taube with `send-proxy`, `send-proxy-v2`, v2 with TLVs
(`proxy-v2-options ssl,unique-id,crc32c`), v2 behind a TLS-terminating frontend (TLVs ssl with
sub-TLVs, authority = the SNI, unique-id, crc32c) and v2 in front of an implicit-TLS listener,
and runs `check` + `check-send-proxy` health checks (v2 LOCAL). Clients connect to haproxy
from other loopback addresses (127.0.0.5, ...), so haproxy reaches Taube from 127.0.0.1 while
the header names the client: Taube must use the header's address for admission (the
per-client limit), the AUTH ban, relay policy, the Received header and its log.

A recording backend (a Python socket server) shows what haproxy actually sends, so the premise
of each test (v1 line, TLVs present, LOCAL for checks) is checked, not assumed. Hand-written
headers cover what haproxy never sends: none at all, from an untrusted address, malformed v1,
a truncated v2 TLV, a header in two pieces, and a header with a TLS ClientHello in one segment.
"""

import re
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import security as s  # noqa: E402
from taubetest.process import Child  # noqa: E402
from taubetest.security import ALICE, ALICE_PW, BOB  # noqa: E402
from taubetest.smtp import client_ctx, connect, read_until_close  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
FOREIGN = "user@example.com"
MAX_PER_IP = 2

# Listener indexes of the Taube under test.
DIRECT, PROXY, UNTRUSTED, IMPLICIT = range(4)


# -- a recording backend -----------------------------------------------------------------------


def header_size(data: bytes) -> int | None:
    """The size of the complete PROXY header at the start of data, None while incomplete."""
    if data.startswith(V2_SIG):
        if len(data) < 16:
            return None
        n = 16 + struct.unpack("!H", data[14:16])[0]
        return n if len(data) >= n else None
    end = data.find(b"\r\n")
    return end + 2 if end >= 0 else None


def tlvs(header: bytes) -> dict[int, bytes]:
    """The TLVs of a v2 PROXY/AF_INET header (types to values)."""
    assert header[:12] == V2_SIG and header[12] == 0x21 and header[13] == 0x11, header[:16]
    out, i = {}, 16 + 12
    while i < len(header):
        t, n = header[i], struct.unpack("!H", header[i + 1:i + 3])[0]
        out[t] = header[i + 3:i + 3 + n]
        assert i + 3 + n <= len(header), "TLV past the header"
        i += 3 + n
    return out


class Recorder:
    """A TCP server on loopback that keeps the PROXY header of every connection, then closes."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((h.HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.headers: list[bytes] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while header_size(data) is None:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
            with self.cond:
                self.headers.append(data)
                self.cond.notify_all()

    def wait(self, pred, timeout: float = 10.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for hd in self.headers:
                    if pred(hd):
                        return hd
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def close(self):
        self.sock.close()


# -- the private haproxy -----------------------------------------------------------------------


class PrivateHaproxy(Child):
    """haproxy -db (foreground) with a config file in its own temp dir; its log on stderr."""

    name = "haproxy"

    def __init__(self, config: str, ready_port: int, workdir: Path):
        self.dir = workdir
        self.config_path = workdir / "haproxy.cfg"
        self.config_path.write_text(config)
        super().__init__(["haproxy", "-db", "-f", str(self.config_path)], workdir)
        p = subprocess.run(["haproxy", "-c", "-f", str(self.config_path)], capture_output=True,
                           text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError(f"haproxy -c refused the config:\n{p.stdout}{p.stderr}\n"
                                 f"{config}")
        self.spawn()
        # The "ready" frontend rejects at once without a backend: no noise in Taube's log.
        deadline = time.monotonic() + 15
        while True:
            if not self.alive():
                raise AssertionError("haproxy exited:\n" + self.log_text())
            try:
                socket.create_connection((h.HOST, ready_port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.cleanup()
                    raise AssertionError("haproxy not listening:\n" + self.log_text())
                time.sleep(0.05)


def haproxy_config(ports: dict[str, int], taube: dict[str, int], rec: int, pem: Path) -> str:
    """Frontends (name -> port) forwarding to Taube's listeners (name -> port) or the recorder."""
    def route(name: str, server: str, bind_extra: str = "") -> str:
        return (f"frontend fe_{name}\n    bind {h.HOST}:{ports[name]}{bind_extra}\n"
                f"    default_backend be_{name}\n"
                f"backend be_{name}\n    server s_{name} {server}\n")
    proxy, implicit = f"{h.HOST}:{taube['proxy']}", f"{h.HOST}:{taube['implicit']}"
    tlv = "send-proxy-v2 proxy-v2-options ssl,unique-id,crc32c"
    off = "send-proxy-v2 proxy-v2-options ssl,unique-id,authority,crc32c"
    tls_bind = f" ssl crt {pem}"
    return "".join([
        "global\n    maxconn 200\n    log stderr format raw local0 info\n"
        "    tune.ssl.default-dh-param 2048\n",
        "defaults\n    mode tcp\n    log global\n    option tcplog\n"
        "    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n"
        "    unique-id-format %[uuid()]\n",
        f"frontend ready\n    bind {h.HOST}:{ports['ready']}\n"
        "    tcp-request connection reject\n",
        route("v1", f"{proxy} send-proxy"),
        route("v2", f"{proxy} send-proxy-v2"),
        route("tlv", f"{proxy} {tlv}"),
        route("offload", f"{proxy} {off}", tls_bind),
        route("implicit", f"{implicit} send-proxy-v2"),
        route("rec_v1", f"{h.HOST}:{rec} send-proxy"),
        route("rec_tlv", f"{h.HOST}:{rec} {tlv}"),
        route("rec_offload", f"{h.HOST}:{rec} {off}", tls_bind),
        # Health checks only (no frontend): from 127.0.0.2, a v2 LOCAL header, then close.
        "backend be_check\n    option log-health-checks\n"
        f"    server s_check {proxy} send-proxy-v2 check check-send-proxy inter 300ms "
        f"source 127.0.0.2\n",
        "backend be_rec_check\n"
        f"    server s_rec_check {h.HOST}:{rec} send-proxy-v2 check check-send-proxy "
        "inter 300ms\n",
    ])


# -- the servers -------------------------------------------------------------------------------

srv: s.SecTaube | None = None
hap: PrivateHaproxy | None = None
rec: Recorder | None = None
ports: dict[str, int] = {}
_tmp: tempfile.TemporaryDirectory | None = None


def setUpModule():
    global srv, hap, rec, _tmp
    _tmp = tempfile.TemporaryDirectory(prefix="taube-haproxy-")
    work = Path(_tmp.name)
    trusted = ["127.0.0.1/32", "127.0.0.2/32"]
    srv = s.SecTaube(
        [s.listener("starttls"),
         s.listener("starttls", proxy_protocol=True, proxy_networks=trusted,
                    plaintext_auth=True),
         s.listener("starttls", proxy_protocol=True, proxy_networks=["127.0.0.9/32"]),
         s.listener("implicit", proxy_protocol=True, proxy_networks=trusted)],
        auth={"failure_delay": 0, "max_failures": 2, "ban_time": 600},
        relay={"networks": ["127.0.0.5/32"]},
        extra={"limits": {"max_connections_per_ip": MAX_PER_IP,
                          "connection_limit_exempt": []},
               "users": {ALICE: "", BOB: ""}})
    rec = Recorder()
    pem = work / "haproxy.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=mx.test", "-keyout", str(work / "k.pem"),
                    "-out", str(work / "c.pem")], check=True, capture_output=True, timeout=60)
    pem.write_bytes((work / "c.pem").read_bytes() + (work / "k.pem").read_bytes())
    for name in ("ready", "v1", "v2", "tlv", "offload", "implicit", "rec_v1", "rec_tlv",
                 "rec_offload"):
        ports[name] = h.free_port()
    cfg = haproxy_config(ports, {"proxy": srv.ports[PROXY], "implicit": srv.ports[IMPLICIT]},
                         rec.port, pem)
    hap = PrivateHaproxy(cfg, ports["ready"], work)


def tearDownModule():
    try:
        if srv is not None:
            srv.stop()
    finally:
        for x in (srv, hap):
            if x is not None:
                x.cleanup()
        if rec is not None:
            rec.close()
        if _tmp is not None:
            _tmp.cleanup()


def via(frontend: str, source: str, implicit: bool = False) -> h.RawClient:
    """A client of haproxy's frontend, from loopback address `source`."""
    return h.RawClient(h.HOST, ports[frontend], 10, implicit=implicit, source=source)


def log_since(mark: int) -> str:
    return "\n".join(srv.lines()[mark:])


def deliver(c: h.RawClient, marker: str, rcpt: str = ALICE) -> str:
    """EHLO, one message to `rcpt`; returns the queue id."""
    c.expect("220 ")
    c.ehlo("client.test")
    body = (f"Subject: {marker}\r\nMessage-ID: <{marker}@client.test>\r\n\r\n{marker}\r\n")
    qid = h.queued_id(c.send_message("sender@client.test", [rcpt], body.encode()))
    c.expect("221", "QUIT")
    return qid


def stored(marker: str) -> h.Stored:
    hits = s.find_marker(srv.mail_root, marker.encode())
    if len(hits) != 1:
        raise AssertionError(f"{marker}: {len(hits)} stored copies")
    return h.read_stored(hits[0])


def expect_closed_silently(test: unittest.TestCase, sock: socket.socket, what: str) -> None:
    data, closed = read_until_close(sock, 5)
    test.assertTrue(closed, f"{what}: connection not closed")
    test.assertEqual(data, b"", f"{what}: the server must say nothing (no SMTP, no TLS)")


def v2_header(src: str, dst: str, sport: int, dport: int, tail: bytes = b"",
              command: int = 0x21) -> bytes:
    addrs = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    body = addrs + tail
    return V2_SIG + bytes([command, 0x11]) + struct.pack("!H", len(body)) + body


# -- what haproxy sends ------------------------------------------------------------------------


class WhatHaproxySends(unittest.TestCase):
    """The premises: haproxy's headers as the recording backend sees them."""

    def test_v1_line_names_the_client(self):
        with via("rec_v1", "127.0.0.5") as c:
            c.is_closed(5)
        hd = rec.wait(lambda d: d.startswith(b"PROXY TCP4 127.0.0.5 "))
        self.assertIsNotNone(hd, rec.headers)
        self.assertRegex(hd, rb"^PROXY TCP4 127\.0\.0\.5 127\.0\.0\.1 \d+ %d\r\n$"
                         % ports["rec_v1"])

    def test_v2_tlvs(self):
        with via("rec_tlv", "127.0.0.5") as c:
            c.is_closed(5)
        src = socket.inet_aton("127.0.0.5")
        hd = rec.wait(lambda d: d.startswith(V2_SIG) and d[12] == 0x21 and d[16:20] == src
                      and 0x20 in tlvs(d) and 0x02 not in tlvs(d))
        self.assertIsNotNone(hd, rec.headers)
        t = tlvs(hd)
        for typ in (0x20, 0x05, 0x03):  # SSL, UNIQUE_ID, CRC32C
            self.assertIn(typ, t, f"TLV {typ:#x} missing: {t}")
        self.assertEqual(t[0x20][0] & 0x01, 0, "not a TLS client: PP2_CLIENT_SSL clear")
        self.assertEqual(len(t[0x03]), 4)
        self.assertEqual(len(t[0x05]), 36, t[0x05])  # a UUID

    def test_v2_tlvs_behind_tls_offload(self):
        with via("rec_offload", "127.0.0.5", implicit=True) as c:
            self.assertIn(c.version(), ("TLSv1.2", "TLSv1.3"))
            c.is_closed(5)
        hd = rec.wait(lambda d: d.startswith(V2_SIG) and d[12] == 0x21 and 0x02 in tlvs(d))
        self.assertIsNotNone(hd, rec.headers)
        t = tlvs(hd)
        self.assertEqual(t[0x02], b"mx.test")  # AUTHORITY: the client's SNI
        self.assertEqual(t[0x20][0] & 0x01, 0x01, "PP2_CLIENT_SSL set")
        self.assertIn(b"TLSv1.", t[0x20])  # sub-TLV PP2_SUBTYPE_SSL_VERSION
        self.assertGreater(len(hd), 100)

    def test_health_check_is_local(self):
        hd = rec.wait(lambda d: d.startswith(V2_SIG) and d[12] == 0x20)
        self.assertIsNotNone(hd, f"no v2 LOCAL header from the check: {rec.headers}")


# -- Taube behind haproxy ----------------------------------------------------------------------


class BehindHaproxy(unittest.TestCase):
    def test_received_and_log_name_the_client(self):
        """v1, v2, v2 with TLVs (CRC32c checked by Taube) and v2 behind TLS offload: the
        Received header and the log name 127.0.0.5, never haproxy's 127.0.0.1."""
        for fe in ("v1", "v2", "tlv", "offload"):
            with self.subTest(fe):
                mark = len(srv.lines())
                marker = f"proxied-{fe}-{time.monotonic_ns()}"
                with via(fe, "127.0.0.5", implicit=fe == "offload") as c:
                    qid = deliver(c, marker)
                st = stored(marker)
                self.assertEqual(st.r["ip"], "127.0.0.5", st.received)
                self.assertEqual(st.r["helo"], "client.test")
                # Behind TLS offload Taube itself speaks plaintext: no TLS claimed.
                self.assertEqual(st.r["with"], "ESMTP", st.received)
                self.assertIsNotNone(srv.wait_log(rf"^\S+ info {qid}: client=unknown\["
                                                  rf"127\.0\.0\.5\]$", 5, mark), log_since(mark))
                log = log_since(mark)
                self.assertIn("connect from unknown[127.0.0.5]", log)
                self.assertIsNotNone(srv.wait_log(r"disconnect from unknown\[127\.0\.0\.5\]",
                                                  5, mark), log)
                self.assertNotRegex(log, r"(connect|client=).*unknown\[127\.0\.0\.1\]")

    def test_relay_policy_uses_the_client(self):
        """[relay] networks = ["127.0.0.5/32"]: relaying through haproxy from 127.0.0.5 is
        allowed, from 127.0.0.6 denied (both reach Taube from 127.0.0.1)."""
        with via("v2", "127.0.0.6") as c:
            c.greet()
            c.expect("250", "MAIL FROM:<app@client.test>")
            c.expect("554 5.7.1", f"RCPT TO:<{FOREIGN}>")
            c.expect("250 2.1.5", f"RCPT TO:<{ALICE}>")  # local mail is fine
        self.assertIsNotNone(srv.wait_log(r"NOQUEUE: reject: RCPT from unknown\[127\.0\.0\.6\]"
                                          r": 554 5\.7\.1 .*to=<user@example\.com>", 5))
        before = len(srv.spool_files("new"))
        with via("v1", "127.0.0.5") as c:
            c.greet()
            c.expect("250", "MAIL FROM:<app@client.test>")
            c.expect("250", f"RCPT TO:<{FOREIGN}>")
            c.expect("354", "DATA")
            c.send(s.message("app@client.test", FOREIGN, "relayed-through-haproxy") + b".\r\n")
            h.queued_id(c.reply())
        new, _ = srv.wait_spool(before + 1)
        self.assertEqual(len(new), before + 1)

    def test_per_client_limit_counts_the_proxied_address(self):
        """max_connections_per_ip = 2, no exemptions: the third connection from 127.0.0.10
        gets 421, one from 127.0.0.11 does not, though all come from haproxy's 127.0.0.1."""
        held = []
        try:
            for _ in range(MAX_PER_IP):
                c = via("v2", "127.0.0.10")
                held.append(c)
                c.expect("220 ")
            third = via("v2", "127.0.0.10")
            held.append(third)
            r = third.reply()
            self.assertTrue(r.last.startswith("421 4.7.0"), r.text)
            self.assertTrue(third.is_closed())
            other = via("v1", "127.0.0.11")
            held.append(other)
            other.expect("220 ")
            other.ehlo()
        finally:
            for c in held:
                c.close()
        self.assertIsNotNone(srv.wait_log(r"NOQUEUE: reject: CONNECT from unknown\[127\.0\.0\.10"
                                          r"\]: 421 4\.7\.0 .*too many connections from this "
                                          r"client", 5), srv.log_text()[-3000:])
        # Released when they close: 127.0.0.10 is admitted again.
        deadline = time.monotonic() + 5
        while True:
            with via("v2", "127.0.0.10") as c:
                if c.reply().code == 220 or time.monotonic() > deadline:
                    break
            time.sleep(0.1)
        with via("v2", "127.0.0.10") as c:
            c.expect("220 ")

    def test_auth_ban_hits_the_client_not_haproxy(self):
        """max_failures 2, failure_delay 0: 127.0.0.7 is banned through haproxy; 127.0.0.8
        through haproxy and 127.0.0.1 directly are not."""
        with via("v2", "127.0.0.7") as c:
            c.greet()
            self.assertEqual(c.auth_plain(ALICE, "wrong").code, 535)
            r = c.auth_plain(ALICE, "wrong")
            if r.code == 535:
                r = c.reply()
            self.assertTrue(r.last.startswith("421 4.7.0"), r.text)
            self.assertTrue(c.is_closed())
        self.assertIsNotNone(srv.wait_log(r"warning: unknown\[127\.0\.0\.7\]: banned after "
                                          r"repeated authentication failures", 5))
        for fe in ("v1", "v2"):
            with via(fe, "127.0.0.7") as c:
                r = c.reply()
                self.assertTrue(r.last.startswith("421 4.7.0"), f"{fe}: {r.text}")
        with via("v1", "127.0.0.8") as c:
            c.greet()
            c.expect("235 2.7.0", f"AUTH PLAIN {s.plain(ALICE, ALICE_PW)}")
        with srv.client(DIRECT) as c:
            c.greet()
        self.assertNotRegex(srv.log_text(), r"unknown\[127\.0\.0\.1\]: banned")

    def test_implicit_tls_behind_send_proxy_v2(self):
        """tls = "implicit" with proxy_protocol: the header, then the TLS handshake."""
        marker = f"implicit-{time.monotonic_ns()}"
        mark = len(srv.lines())
        with via("implicit", "127.0.0.5", implicit=True) as c:
            self.assertIn(c.version(), ("TLSv1.2", "TLSv1.3"))
            deliver(c, marker)
        st = stored(marker)
        self.assertEqual(st.r["ip"], "127.0.0.5")
        self.assertEqual(st.r["with"], "ESMTPS", st.received)
        self.assertIsNotNone(srv.wait_log(r"TLS connection established from "
                                          r"unknown\[127\.0\.0\.5\]", 5, mark))

    def test_health_checks_are_harmless(self):
        """check + check-send-proxy from 127.0.0.2 (v2 LOCAL, then close): the socket's
        address is kept, haproxy keeps the server UP, and no warning is logged for it."""
        deadline = time.monotonic() + 10
        while srv.log_text().count("connect from unknown[127.0.0.2]") < 3:
            self.assertLess(time.monotonic(), deadline, srv.log_text()[-3000:])
            time.sleep(0.1)
        with via("v2", "127.0.0.5") as c:  # mail flows while the checks run
            c.greet()
        check_lines = [l for l in srv.lines() if "127.0.0.2" in l]
        for line in check_lines:
            self.assertRegex(line, r" info (connect from|lost connection after CONNECT from|"
                                   r"disconnect from) unknown\[127\.0\.0\.2\]", line)
        self.assertNotIn("warning", "\n".join(check_lines))
        self.assertIsNotNone(hap.wait_log(r"Health check for server be_check/s_check "
                                          r"succeeded", 5), hap.log_text())
        self.assertNotRegex(hap.log_text(), r"be_check/s_check (failed|is DOWN)")


# -- hand-written headers ----------------------------------------------------------------------


class HandWritten(unittest.TestCase):
    def warned(self, mark: int, address: str, what: str):
        rx = rf" warning warning: unknown\[{re.escape(address)}\]: {what}"
        self.assertIsNotNone(srv.wait_log(rx, 5, mark), log_since(mark))

    def test_no_header_closed_and_logged(self):
        """Straight to the PROXY listener from 127.0.0.1 (a trusted address): no greeting
        before the header; an SMTP command instead of one closes the connection."""
        mark = len(srv.lines())
        sock = connect(srv.ports[PROXY])
        with sock:
            sock.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                sock.recv(100)  # Taube waits for the header and says nothing
            sock.sendall(b"EHLO client.test\r\n")
            expect_closed_silently(self, sock, "no header")
        self.warned(mark, "127.0.0.1", "bad PROXY protocol header")

    def test_untrusted_sender_closed_and_logged(self):
        """proxy_networks = ["127.0.0.9/32"]: a valid header from 127.0.0.1 is refused, the
        same header from 127.0.0.9 is used."""
        line = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 %d\r\n" % srv.ports[UNTRUSTED]
        mark = len(srv.lines())
        with connect(srv.ports[UNTRUSTED]) as sock:
            sock.sendall(line + b"EHLO client.test\r\n")
            expect_closed_silently(self, sock, "untrusted")
        self.warned(mark, "127.0.0.1", "PROXY protocol header expected, but not from "
                                       "proxy_networks")
        mark = len(srv.lines())
        with connect(srv.ports[UNTRUSTED], source="127.0.0.9") as sock:
            sock.sendall(line)
            self.assertTrue(sock.recv(100).startswith(b"220 mx.test"))
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[192\.0\.2\.7\]", 5, mark))

    def test_malformed_v1_closed_and_logged(self):
        for bad in (b"PROXY TCP4 127.0.0.5 127.0.0.1 40000\r\n",     # a port missing
                    b"PROXY TCP4 127.0.0.256 127.0.0.1 1 2\r\n",     # not an address
                    b"PROXY TCP6 127.0.0.5 127.0.0.1 1 2\r\n",       # wrong family
                    b"PROXY  TCP4 127.0.0.5 127.0.0.1 1 2\r\n",      # two spaces
                    b"PROXY TCP4 127.0.0.5 127.0.0.1 1 2\n"):        # LF alone
            with self.subTest(bad):
                mark = len(srv.lines())
                with connect(srv.ports[PROXY]) as sock:
                    sock.sendall(bad)
                    expect_closed_silently(self, sock, repr(bad))
                self.warned(mark, "127.0.0.1", "bad PROXY protocol header: ")

    def test_v2_truncated_tlv_closed_and_logged(self):
        """A UNIQUE_ID TLV claiming 10 octets with 2 left in the header."""
        hd = v2_header("127.0.0.5", "127.0.0.1", 40000, srv.ports[PROXY],
                       tail=b"\x05\x00\x0aab")
        mark = len(srv.lines())
        with connect(srv.ports[PROXY]) as sock:
            sock.sendall(hd + b"EHLO client.test\r\n")  # octets after it do not complete it
            expect_closed_silently(self, sock, "truncated TLV")
        self.warned(mark, "127.0.0.1", "bad PROXY protocol header: ")
        self.assertNotIn("127.0.0.5", log_since(mark))

    def test_v2_with_tlvs_and_local_by_hand(self):
        """Control for the above: the same header with the TLV complete is used; a LOCAL
        header keeps the socket's address."""
        hd = v2_header("127.0.0.12", "127.0.0.1", 40000, srv.ports[PROXY],
                       tail=b"\x05\x00\x02ab\x04\x00\x00")
        mark = len(srv.lines())
        with connect(srv.ports[PROXY]) as sock:
            sock.sendall(hd)
            self.assertTrue(sock.recv(100).startswith(b"220 mx.test"))
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[127\.0\.0\.12\]", 5, mark))
        mark = len(srv.lines())
        with connect(srv.ports[PROXY]) as sock:
            sock.sendall(v2_header("192.0.2.1", "192.0.2.2", 1, 2, command=0x20))
            self.assertTrue(sock.recv(100).startswith(b"220 mx.test"))
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[127\.0\.0\.1\]", 5, mark))
        self.assertNotIn("192.0.2.1", log_since(mark))
        mark = len(srv.lines())
        with connect(srv.ports[PROXY]) as sock:
            sock.sendall(b"PROXY UNKNOWN whatever follows\r\n")
            self.assertTrue(sock.recv(100).startswith(b"220 mx.test"))
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[127\.0\.0\.1\]", 5, mark))

    def test_header_in_two_pieces(self):
        """A header split over two writes (not haproxy's way, but TCP allows it) is waited
        for, and the command pipelined after it is answered."""
        mark = len(srv.lines())
        with connect(srv.ports[PROXY]) as sock:
            sock.sendall(b"PROXY TCP4 127.0.0.13 127.0.")
            time.sleep(0.2)
            sock.sendall(b"0.1 40000 %d\r\nEHLO client.test\r\n" % srv.ports[PROXY])
            data = b""
            while b"\r\n250 " not in data:
                chunk = sock.recv(4096)
                self.assertTrue(chunk, data)
                data += chunk
            self.assertTrue(data.startswith(b"220 mx.test"), data)
        self.assertIsNotNone(srv.wait_log(r"connect from unknown\[127\.0\.0\.13\]", 5, mark))

    def test_header_and_client_hello_in_one_segment(self):
        """Implicit TLS: the header is read exactly, so the ClientHello behind it in the same
        write reaches the TLS handshake intact."""
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = client_ctx().wrap_bio(inc, out, server_hostname=h.HOSTNAME)
        with self.assertRaises(ssl.SSLWantReadError):
            tls.do_handshake()
        hello = out.read()
        self.assertEqual(hello[:1], b"\x16")  # a TLS handshake record
        mark = len(srv.lines())
        with connect(srv.ports[IMPLICIT]) as sock:
            sock.sendall(v2_header("127.0.0.14", "127.0.0.1", 40000, srv.ports[IMPLICIT])
                         + hello)
            greeting = b""
            while b"\r\n" not in greeting:
                try:
                    tls.do_handshake()
                    greeting += tls.read(4096)
                except (ssl.SSLWantReadError, ssl.SSLSyscallError):
                    pass
                pending = out.read()
                if pending:
                    sock.sendall(pending)
                if b"\r\n" in greeting:
                    break
                chunk = sock.recv(65536)
                self.assertTrue(chunk, "closed during the handshake")
                inc.write(chunk)
            self.assertTrue(greeting.startswith(b"220 mx.test"), greeting)
            self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
        self.assertIsNotNone(srv.wait_log(r"TLS connection established from "
                                          r"unknown\[127\.0\.0\.14\]", 5, mark), log_since(mark))


if __name__ == "__main__":
    h.main("haproxy", "openssl")

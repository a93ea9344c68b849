"""Shared helpers for the TLS / AUTH / relay-policy integration tests (issue 3).

Builds on harness.py (not modified here): a Taube subclass with several listeners, a users file
(one yescrypt hash written by `taube passwd`, one SHA-512 crypt hash from `openssl passwd -6`), a
[tls] section whose certificate the server generates on first start, and a relay spool; plus a
raw SMTP client that can switch to TLS on the same socket (STARTTLS) or start in TLS (RFC 8314).
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ALICE = "alice@example.org"
ALICE_PW = "alice-s3cret"
BOB = "bob@example.org"
BOB_PW = "b0b-pa55word"
LOCAL_DOMAINS = ["localhost", "example.org"]

LISTEN_RX = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


# --------------------------------------------------------------------------------------------
# Server


def listener(tls: str = "starttls", **kw) -> dict:
    d = {"address": h.HOST, "port": 0, "tls": tls}
    d.update(kw)
    return d


class SecTaube(h.Taube):
    """taube with TLS (self-signed cert generated at <work>/cert.pem), AUTH and a relay spool.

    `listeners` is a list of [[listener]] dicts; their ports are in `self.ports` (listener order,
    parsed from the `listening on` lines)."""

    def __init__(self, listeners: list[dict], auth: dict | None = None,
                 relay: dict | None = None, extra: dict | None = None,
                 users: bool = True, start_timeout: float = 20.0):
        self.work = Path(tempfile.mkdtemp(prefix="taube-sec-"))
        self.cert = self.work / "cert.pem"
        self.key = self.work / "key.pem"
        self.spool = self.work / "spool"
        self.users_file = self.work / "users"
        cfg: dict = {
            "listener": listeners,
            "tls": {"certificate": str(self.cert), "key": str(self.key), "self_signed": True},
            "relay": {"networks": [], "spool": str(self.spool)},
        }
        if users:
            write_users(self.users_file)
            cfg["auth"] = {"users_file": str(self.users_file), "failure_delay": 0.2,
                           "max_failures": 1000, "failure_window": 300, "ban_time": 600,
                           "restrict_sender": True}
        cfg = h.merge(cfg, {"auth": auth} if auth else None)
        cfg = h.merge(cfg, {"relay": relay} if relay else None)
        cfg = h.merge(cfg, extra)
        try:
            super().__init__(cfg, start_timeout=start_timeout)
        except BaseException:
            shutil.rmtree(self.work, ignore_errors=True)
            raise
        self.ports = self._all_ports(len(listeners), start_timeout)

    def _all_ports(self, n: int, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            ports = [int(m.group(1)) for line in list(self.log)
                     if (m := LISTEN_RX.search(line))]
            if len(ports) >= n:
                return ports[:n]
            if time.monotonic() > deadline or self.proc.poll() is not None:
                log = self.log_text()
                self.cleanup()
                raise AssertionError(f"expected {n} 'listening on' lines, got {ports}:\n{log}")
            time.sleep(0.05)

    def cleanup(self) -> None:
        super().cleanup()
        if not os.environ.get("TAUBE_KEEP_TMP"):
            shutil.rmtree(self.work, ignore_errors=True)

    def client(self, listener_index: int = 0, implicit: bool = False,
               timeout: float = 10.0, source: str | None = None) -> "TlsClient":
        return TlsClient(self.ports[listener_index], implicit=implicit, timeout=timeout,
                         source=source)

    # -- relay spool -------------------------------------------------------------------------

    def spool_files(self, sub: str) -> list[Path]:
        d = self.spool / sub
        if not d.is_dir():
            return []
        return sorted(p for p in d.iterdir() if p.is_file())

    def wait_spool(self, n: int, timeout: float = 10.0) -> tuple[list[Path], list[Path]]:
        deadline = time.monotonic() + timeout
        while True:
            new, env = self.spool_files("new"), self.spool_files("env")
            if (len(new) >= n and len(env) >= n) or time.monotonic() > deadline:
                return new, env
            time.sleep(0.05)


def write_users(path: Path) -> None:
    """alice: yescrypt via `taube passwd`; bob: SHA-512 crypt via `openssl passwd -6`."""
    p = subprocess.run([h.taube_bin(), "passwd", ALICE, "--file", str(path)],
                       input=(ALICE_PW + "\n").encode(), capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"taube passwd failed ({p.returncode}): {p.stderr!r}")
    line = [l for l in path.read_text().splitlines() if l.startswith(ALICE + ":")]
    if len(line) != 1 or not line[0].split(":", 1)[1].startswith("$y$"):
        raise AssertionError(f"taube passwd did not write one yescrypt line: {path.read_text()!r}")
    o = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=BOB_PW.encode(),
                       capture_output=True, timeout=30, check=True)
    with path.open("a") as f:
        f.write(f"{BOB}:{o.stdout.decode().strip()}\n")


# --------------------------------------------------------------------------------------------
# TLS client


def client_ctx(cafile: Path | None = None, minimum=None, maximum=None) -> ssl.SSLContext:
    """Without cafile: no verification (self-signed cert). With: verify chain and mx.test."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(cafile=str(cafile))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def plain(user: str, pw: str, authzid: str = "") -> str:
    return b64(f"{authzid}\0{user}\0{pw}")


class TlsClient(h.RawClient):
    """RawClient whose socket can be upgraded to TLS in place."""

    def __init__(self, port: int, implicit: bool = False, ctx: ssl.SSLContext | None = None,
                 timeout: float = 10.0, source: str | None = None):
        if source is None:
            super().__init__(h.HOST, port, timeout)
        else:  # another loopback address as the client IP (Linux routes all of 127/8 to lo)
            self.sock = socket.create_connection((h.HOST, port), timeout=timeout,
                                                 source_address=(source, 0))
            self.sock.settimeout(timeout)
            self.buf = b""
            self.transcript = []
        self.tls = False
        if implicit:
            self.wrap(ctx)

    def wrap(self, ctx: ssl.SSLContext | None = None) -> None:
        """TLS handshake over the current socket. Bytes already buffered are plaintext the
        server sent after its 220: that is an error the caller should assert on first."""
        self.sock = (ctx or client_ctx()).wrap_socket(self.sock, server_hostname=h.HOSTNAME)
        self.tls = True

    def starttls(self, ctx: ssl.SSLContext | None = None) -> h.Reply:
        r = self.expect("220 2.0.0", "STARTTLS")
        if self.buf:
            raise AssertionError(f"server sent plaintext after 220 to STARTTLS: {self.buf!r}")
        self.wrap(ctx)
        return r

    def ehlo(self, name: str = "client.test") -> h.Reply:
        return self.expect("250", f"EHLO {name}")

    def version(self) -> str | None:
        return self.sock.version() if self.tls else None

    def auth_plain(self, user: str, pw: str) -> h.Reply:
        return self.cmd(f"AUTH PLAIN {plain(user, pw)}")

    def auth_login(self, user: str, pw: str) -> h.Reply:
        self.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        self.expect("334 UGFzc3dvcmQ6", b64(user))
        return self.cmd(b64(pw))

    def closed(self, timeout: float = 3.0) -> bool:
        """True if the server closes (TCP FIN/RST or TLS EOF) within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def read_until_close(self, timeout: float = 3.0) -> bytes:
        self.closed(timeout)
        data, self.buf = self.buf, b""
        return data


def tls_session(srv: SecTaube, index: int = 0, ehlo: bool = True) -> TlsClient:
    """Connected, greeted, STARTTLS done, (optionally) EHLO sent again over TLS."""
    c = srv.client(index)
    c.greet()
    c.starttls()
    if ehlo:
        c.ehlo()
    return c


def implicit_session(srv: SecTaube, index: int, ehlo: bool = True) -> TlsClient:
    c = srv.client(index, implicit=True)
    c.expect("220 ")
    if ehlo:
        c.ehlo()
    return c


def ehlo_keywords(r: h.Reply) -> list[str]:
    return [l[4:].decode().upper() for l in r.lines[1:]]


# --------------------------------------------------------------------------------------------
# Stored messages


RECEIVED_RX = re.compile(
    r"^from (?P<helo>\S+) \((?:\S+ )?\[(?P<ip>[0-9a-fA-F.:]+)\]\)"
    r"(?: \(Authenticated sender: (?P<auth>[^)]*)\))?"
    r" by (?P<by>\S+) \(Taube\) with (?P<with>[A-Z0-9]+)"
    r"(?: \((?P<tls>[^)]*)\))?"
    r" id (?P<id>\S+)(?: for <(?P<for>[^>]*)>)?; (?P<date>.+)$")
TLS_INFO_RX = re.compile(r"^TLSv1\.[23] with cipher [A-Za-z0-9_-]+$")


def received(raw: bytes) -> str:
    """The first Received header of a stored message, unfolded, without the field name."""
    text = raw.decode("utf-8", "replace")
    m = re.search(r"^Received:(.*(?:\n[ \t].*)*)", text, re.M)
    if not m:
        raise AssertionError(f"no Received header: {raw[:400]!r}")
    return re.sub(r"\s+", " ", m.group(1)).strip()


def parse_received(raw: bytes) -> dict:
    rec = received(raw)
    m = RECEIVED_RX.match(rec)
    if not m:
        raise AssertionError(f"Received header not in the documented format: {rec!r}")
    return m.groupdict()


def all_stored(mail_root: Path) -> list[Path]:
    return [p for md in h.all_maildirs(mail_root) for p in h.maildir_messages(md)]


def find_marker(mail_root: Path, marker: bytes, timeout: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while True:
        hits = [p for p in all_stored(mail_root) if marker in p.read_bytes()]
        if hits or time.monotonic() > deadline:
            return hits
        time.sleep(0.05)


def message(sender: str, rcpt: str, subject: str, body: str = "Hello.") -> bytes:
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@client.test>\r\n\r\n{body}\r\n").encode()


def run(cmd: list[str], timeout: float = 30, input: bytes | None = None):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)


def out(p: subprocess.CompletedProcess) -> str:
    return (p.stdout.decode(errors="replace") + "\n--- stderr ---\n"
            + p.stderr.decode(errors="replace"))

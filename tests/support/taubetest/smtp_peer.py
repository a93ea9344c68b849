"""SmtpPeer: a scriptable destination SMTP server that records what an SMTP client did.

The outbound tests point Taube's queue runner at one (by [transport] or smarthost) and assert
from outside what arrived: the envelope with its ESMTP parameters (RFC 5321 §4.1.1, RFC 3461
DSN, RFC 6531 SMTPUTF8, RFC 1870 SIZE), the content after dot-unstuffing (§4.5.2) or BDAT
(RFC 3030), whether STARTTLS (RFC 3207) and AUTH (RFC 4954) were used, how many messages went
over each connection and how many connections were open at once.

    with SmtpPeer(extensions=["PIPELINING", "8BITMIME", "DSN"],
                  rcpt=lambda addr, n: "451 4.7.1 greylisted" if n == 1 else None) as peer:
        ... taube delivers ...
        [msg] = peer.wait_for(1, timeout=10)
        msg.mail_from, msg.rcpt_addrs(), msg.data, msg.session.tls

Faults are scripted by hooks that return a reply line (or None for the normal reply): `mail`
(addr, params, n), `rcpt` (addr, n) or (addr, n, params) by arity, `data` (Transaction) at the
end of data (the reply, or "DROP" to close the connection without one), `greeting` (str, or callable(connection number) -> str), `disconnect`
(verb, Session) -> True to drop the connection instead of replying, `delay` (seconds before
every reply, or {verb: seconds}; "GREETING" and "DOT" are the greeting and the end of data),
`tls_fault` ("close": 220 to STARTTLS then close; "garbage": 220 then non-TLS bytes).
n counts how many times that address was seen in MAIL (resp. RCPT) so far, starting at 1.

A thread per connection (socketserver); everything recorded is guarded by one condition, so the
accessors may be called from the test thread at any time. Standard library only.
"""

from __future__ import annotations

import base64
import inspect
import re
import socket
import socketserver
import ssl
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

PARAM_RX = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*)(?:=(\S*))?$")
MAX_LINE = 1 << 20


def free_port(host: str = "127.0.0.2") -> int:
    """A port on `host` that was free a moment ago (for a peer started later on it)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def make_cert(directory, cn: str = "peer.test") -> tuple[str, str]:
    """A self-signed certificate and key (openssl req) in `directory`; returns their paths."""
    import subprocess
    from pathlib import Path
    d = Path(directory)
    cert, key = d / "peer-cert.pem", d / "peer-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return str(cert), str(key)


@dataclass
class Rcpt:
    addr: str
    params: dict
    reply: str


@dataclass
class Transaction:
    """One MAIL..end-of-data (or RSET/QUIT/drop) of a session."""
    session: "Session"
    mail_from: str
    mail_params: dict
    rcpts: list = field(default_factory=list)       # every RCPT tried, with the reply sent
    data: bytes | None = None                       # after dot-unstuffing / BDAT, CRLF kept
    via: str | None = None                          # "DATA" or "BDAT"
    data_reply: str | None = None                   # reply to the end of data
    accepted: bool = False                          # 2xx at the end of data

    def rcpt_addrs(self, accepted_only: bool = True) -> list[str]:
        return [r.addr for r in self.rcpts if not accepted_only or r.reply.startswith("2")]

    def rcpt_params(self, addr: str) -> dict:
        return next(r.params for r in self.rcpts if r.addr == addr)


@dataclass
class Session:
    """One connection."""
    number: int                                     # 1, 2, ... in order of acceptance
    client: tuple
    helo_verb: str | None = None                    # "EHLO" or "HELO"
    ehlo: str | None = None                         # the name the client gave
    tls: bool = False
    tls_version: str | None = None
    auth: list = field(default_factory=list)        # (mechanism, user, password, ok)
    commands: list = field(default_factory=list)    # every command line, decoded
    transactions: list = field(default_factory=list)
    quit: bool = False                              # the client said QUIT
    closed: bool = False
    plaintext_after_starttls: bytes = b""           # pipelined past STARTTLS (RFC 3207 §4.2)
    pipelined: list = field(default_factory=list)   # commands with more behind them, unasked

    @property
    def messages(self) -> int:
        return sum(1 for t in self.transactions if t.accepted)


class _Reader:
    """Lines and counted octets from a socket, buffered here so STARTTLS can see leftovers."""

    def __init__(self, sock):
        self.sock, self.buf = sock, bytearray()

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def line(self) -> bytes | None:
        while b"\n" not in self.buf:
            if len(self.buf) > MAX_LINE or not self._fill():
                return None
        i = self.buf.index(b"\n") + 1
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out

    def octets(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not self._fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class _Drop(Exception):
    """End the connection without a reply."""


def parse_params(words: list[str]) -> dict:
    """ESMTP parameters (RFC 5321 §4.1.2 esmtp-param), keys upper-cased, values as sent."""
    out = {}
    for w in words:
        m = PARAM_RX.match(w)
        out[(m.group(1) if m else w).upper()] = m.group(2) if m else None
    return out


def _path(arg: str, prefix: str) -> tuple[str, list[str]] | None:
    """'FROM:<a@b> X=Y' -> ('a@b', ['X=Y']); None if malformed."""
    if not arg.upper().startswith(prefix):
        return None
    rest = arg[len(prefix):].lstrip(" ")
    if not rest.startswith("<") or ">" not in rest:
        return None
    addr, _, params = rest[1:].partition(">")
    return addr, params.split()


class SmtpPeer:
    def __init__(self, host: str = "127.0.0.2", port: int = 0, *, name: str = "peer.test",
                 extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
                 tls: tuple[str, str] | None = None, tls_fault: str | None = None,
                 auth: tuple[str, str] | None = None, auth_required: bool = False,
                 greeting=None, mail=None, rcpt=None, data=None, disconnect=None,
                 delay: float | dict = 0.0):
        self.host, self.name = host, name
        self.extensions = list(extensions)
        self.tls, self.tls_fault = tls, tls_fault
        self.auth, self.auth_required = auth, auth_required
        self.greeting, self.on_mail, self.on_data = greeting, mail, data
        self.on_rcpt = rcpt  # the hooks may be replaced while the peer runs
        self.disconnect, self.delay = disconnect, delay
        self.size_limit = next((int(e.split()[1]) for e in self.extensions
                                if e.upper().startswith("SIZE ")), None)
        self._cond = threading.Condition()
        self._sessions: list[Session] = []
        self._mail_seen, self._rcpt_seen = Counter(), Counter()
        self._active = 0
        self.max_concurrency = 0
        self._socks: set = set()
        self.errors: list[str] = []  # tracebacks of exceptions in connection threads
        self._ctx = None
        if tls:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(tls[0], tls[1])
        self._server = None
        self._thread = None
        self.port = port
        self.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        peer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                peer._serve(self.request, self.client_address)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and drop every open connection (the port is closed afterwards)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self) -> str:
        """How [transport] names this peer: "[host]:port"."""
        return f"[{self.host}]:{self.port}"

    # -- thread-safe accessors ---------------------------------------------------------------

    def sessions(self) -> list[Session]:
        with self._cond:
            return list(self._sessions)

    def transactions(self) -> list[Transaction]:
        with self._cond:
            return [t for s in self._sessions for t in s.transactions]

    def messages(self) -> list[Transaction]:
        """Transactions whose end of data got a 2xx, in order."""
        return [t for t in self.transactions() if t.accepted]

    def wait(self, predicate, timeout: float) -> bool:
        """Wait until predicate(self) holds (re-checked on every recorded event)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def wait_for(self, count: int, timeout: float) -> list[Transaction]:
        """Wait until `count` messages were accepted; return them (fewer at timeout)."""
        self.wait(lambda p: len(p.messages()) >= count, timeout)
        return self.messages()

    def _event(self) -> None:
        with self._cond:
            self._cond.notify_all()

    # -- one connection ----------------------------------------------------------------------

    def _serve(self, sock, client) -> None:
        with self._cond:
            s = Session(len(self._sessions) + 1, client)
            self._sessions.append(s)
            self._socks.add(sock)
            self._active += 1
            self.max_concurrency = max(self.max_concurrency, self._active)
            self._cond.notify_all()
        conn = _Conn(self, s, sock)
        try:
            conn.run()
        except (_Drop, OSError, ssl.SSLError):
            pass
        except Exception:  # a bug in a hook or here: kept for the test to see (peer.errors)
            with self._cond:
                self.errors.append(traceback.format_exc())
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass
            with self._cond:
                s.closed = True
                self._socks.discard(sock)
                self._socks.discard(conn.sock)
                self._active -= 1
                self._cond.notify_all()


class _Conn:
    def __init__(self, peer: SmtpPeer, session: Session, sock):
        self.p, self.s, self.sock = peer, session, sock
        self.r = _Reader(sock)
        self.txn: Transaction | None = None
        self.rejecting = False  # after a 554 greeting: only QUIT (RFC 5321 §3.1)

    def send(self, verb: str, line: str) -> None:
        d = self.p.delay
        wait = d.get(verb, 0.0) if isinstance(d, dict) else d
        if wait:
            time.sleep(wait)
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def reply_lines(self, verb: str, lines: list[str]) -> None:
        text = "".join(f"{l[:3]}{'-' if i < len(lines) - 1 else ' '}{l[4:]}\r\n"
                       for i, l in enumerate(lines))
        self.send(verb, text[:-2])

    def run(self) -> None:
        g = self.p.greeting
        greeting = g(self.s.number) if callable(g) else g
        greeting = greeting or f"220 {self.p.name} ESMTP SmtpPeer"
        self.send("GREETING", greeting)
        if greeting.startswith("421"):
            return
        self.rejecting = not greeting.startswith("220")
        while True:
            raw = self.r.line()
            if raw is None:
                return
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            with self.p._cond:
                self.s.commands.append(line)
                # RFC 2920 §3.1: without PIPELINING a client waits for each reply.
                if self.r.buf and not self._has("PIPELINING"):
                    self.s.pipelined.append(verb)
            if self.p.disconnect and self.p.disconnect(verb, self.s):
                raise _Drop()
            if verb == "QUIT":
                with self.p._cond:
                    self.s.quit = True
                self.send("QUIT", "221 2.0.0 Bye")
                return
            if self.rejecting:
                self.send(verb, "503 5.5.1 No service")
                continue
            handler = getattr(self, "cmd_" + verb.lower(), None)
            if handler is None:
                self.send(verb, "502 5.5.2 Command not recognized")
            else:
                handler(verb, arg)
            self.p._event()

    def ehlo_lines(self) -> list[str]:
        ext = list(self.p.extensions)
        if self.p.tls and not self.s.tls:
            ext.append("STARTTLS")
        if self.p.auth:
            ext.append("AUTH PLAIN LOGIN")
        return [f"250 {self.p.name}"] + [f"250 {e}" for e in ext]

    def _reset(self) -> None:
        self.txn = None

    def cmd_ehlo(self, verb, arg):
        with self.p._cond:
            self.s.helo_verb, self.s.ehlo = verb, arg.strip()
        self._reset()
        self.reply_lines(verb, self.ehlo_lines())

    def cmd_helo(self, verb, arg):
        with self.p._cond:
            self.s.helo_verb, self.s.ehlo = verb, arg.strip()
        self._reset()
        self.send(verb, f"250 {self.p.name}")

    def cmd_noop(self, verb, arg):
        self.send(verb, "250 2.0.0 Ok")

    def cmd_rset(self, verb, arg):
        self._reset()
        self.send(verb, "250 2.0.0 Ok")

    def cmd_starttls(self, verb, arg):
        if not self.p.tls or self.s.tls:
            return self.send(verb, "502 5.5.1 STARTTLS not offered")
        leftover = bytes(self.r.buf)
        self.r.buf.clear()
        self.send(verb, "220 2.0.0 Ready to start TLS")
        if self.p.tls_fault == "close":
            raise _Drop()
        if self.p.tls_fault == "garbage":
            self.sock.sendall(b"this is not a TLS record\r\n" * 4)
            raise _Drop()
        raw = self.sock
        tls = self.p._ctx.wrap_socket(raw, server_side=True)
        self.sock = tls
        with self.p._cond:
            self.p._socks.discard(raw)
            self.p._socks.add(tls)
        self.r = _Reader(tls)
        self._reset()
        with self.p._cond:
            self.s.tls, self.s.tls_version = True, tls.version()
            self.s.plaintext_after_starttls += leftover
            self.s.helo_verb = self.s.ehlo = None  # RFC 3207 §4.2: start over with EHLO

    def cmd_auth(self, verb, arg):
        if not self.p.auth:
            return self.send(verb, "502 5.5.1 AUTH not offered")
        words = arg.split()
        mech = words[0].upper() if words else ""
        if mech == "PLAIN":
            if len(words) > 1:
                resp = words[1]
            else:
                self.send(verb, "334 ")
                resp = self._auth_line()
            try:
                _, user, pw = base64.b64decode(resp, validate=True).decode().split("\0")
            except ValueError:
                return self.send(verb, "501 5.5.2 Cannot decode")
        elif mech == "LOGIN":
            self.send(verb, "334 VXNlcm5hbWU6")
            user = self._b64(self._auth_line())
            self.send(verb, "334 UGFzc3dvcmQ6")
            pw = self._b64(self._auth_line())
        else:
            return self.send(verb, "504 5.5.4 Unrecognized authentication type")
        ok = (user, pw) == tuple(self.p.auth)
        with self.p._cond:
            self.s.auth.append((mech, user, pw, ok))
        self.send(verb, "235 2.7.0 Authentication successful" if ok
                  else "535 5.7.8 Authentication credentials invalid")

    def _auth_line(self) -> str:
        raw = self.r.line()
        if raw is None:
            raise _Drop()
        return raw.strip().decode()

    @staticmethod
    def _b64(s: str) -> str:
        try:
            return base64.b64decode(s, validate=True).decode()
        except ValueError:
            return "\0invalid"

    def _authenticated(self) -> bool:
        return any(ok for *_, ok in self.s.auth)

    def _has(self, ext: str) -> bool:
        return any(e.upper().split()[0] == ext for e in self.p.extensions)

    def cmd_mail(self, verb, arg):
        if self.s.helo_verb is None:
            return self.send(verb, "503 5.5.1 EHLO first")
        if self.txn is not None:
            return self.send(verb, "503 5.5.1 Nested MAIL")
        if self.p.auth_required and not self._authenticated():
            return self.send(verb, "530 5.7.0 Authentication required")
        parsed = _path(arg, "FROM:")
        if parsed is None:
            return self.send(verb, "501 5.5.4 Syntax: MAIL FROM:<address>")
        addr, words = parsed
        params = parse_params(words)
        with self.p._cond:
            self.p._mail_seen[addr.lower()] += 1
            n = self.p._mail_seen[addr.lower()]
        reply = self.p.on_mail(addr, params, n) if self.p.on_mail else None
        if reply is None:
            reply = self._check_mail(addr, params)
        if reply.startswith("2"):
            self.txn = Transaction(self.s, addr, params)
            with self.p._cond:
                self.s.transactions.append(self.txn)
        self.send(verb, reply)

    def _check_mail(self, addr: str, params: dict) -> str:
        """Refuse what this peer did not advertise (RFC 5321 §4.1.1.11 / 555)."""
        known = {"SIZE": "SIZE", "BODY": "8BITMIME", "SMTPUTF8": "SMTPUTF8", "RET": "DSN",
                 "ENVID": "DSN", "AUTH": "AUTH"}
        for k in params:
            ext = known.get(k)
            if ext is None or (ext == "AUTH" and not self.p.auth) or \
                    (ext != "AUTH" and not self._has(ext)):
                return f"555 5.5.4 Unsupported parameter {k}"
        if not addr.isascii() and "SMTPUTF8" not in params:
            return "553 5.6.7 Non-ASCII address without SMTPUTF8"
        if self.p.size_limit and int(params.get("SIZE") or 0) > self.p.size_limit:
            return "552 5.3.4 Message size exceeds fixed limit"
        return "250 2.1.0 Ok"

    def cmd_rcpt(self, verb, arg):
        if self.txn is None:
            return self.send(verb, "503 5.5.1 MAIL first")
        parsed = _path(arg, "TO:")
        if parsed is None:
            return self.send(verb, "501 5.5.4 Syntax: RCPT TO:<address>")
        addr, words = parsed
        params = parse_params(words)
        with self.p._cond:
            self.p._rcpt_seen[addr.lower()] += 1
            n = self.p._rcpt_seen[addr.lower()]
        reply = None
        if self.p.on_rcpt:
            arity = len(inspect.signature(self.p.on_rcpt).parameters)
            reply = self.p.on_rcpt(*(addr, n, params)[:arity])
        if reply is None:
            bad = [k for k in params if k not in ("NOTIFY", "ORCPT") or not self._has("DSN")]
            reply = f"555 5.5.4 Unsupported parameter {bad[0]}" if bad else "250 2.1.5 Ok"
        with self.p._cond:
            self.txn.rcpts.append(Rcpt(addr, params, reply))
        self.send(verb, reply)

    def _ready_for_data(self, verb) -> bool:
        if self.txn is None:
            self.send(verb, "503 5.5.1 MAIL first")
        elif not self.txn.rcpt_addrs():
            self.send(verb, "554 5.5.1 No valid recipients")
        else:
            return True
        return False

    def cmd_data(self, verb, arg):
        if not self._ready_for_data(verb):
            return
        self.send(verb, "354 End data with <CR><LF>.<CR><LF>")
        out = bytearray()
        while True:
            raw = self.r.line()
            if raw is None:
                raise _Drop()
            if raw == b".\r\n":
                break
            out += raw[1:] if raw.startswith(b".") else raw  # RFC 5321 §4.5.2
        self._end_of_data("DATA", bytes(out))

    def cmd_bdat(self, verb, arg):
        words = arg.split()
        try:
            n = int(words[0])
        except (IndexError, ValueError):
            return self.send(verb, "501 5.5.4 Syntax: BDAT size [LAST]")
        chunk = self.r.octets(n)  # read before any reply, even an error (RFC 3030 §2)
        if chunk is None:
            raise _Drop()
        if not self._has("CHUNKING"):
            return self.send(verb, "502 5.5.1 BDAT not offered")
        if not self._ready_for_data(verb):
            return
        with self.p._cond:
            self.txn.data = (self.txn.data or b"") + chunk
            self.txn.via = "BDAT"
        if len(words) > 1 and words[1].upper() == "LAST":
            self._end_of_data("BDAT", self.txn.data)
        else:
            self.send(verb, f"250 2.0.0 {n} octets received")

    def _end_of_data(self, via: str, content: bytes) -> None:
        t = self.txn
        with self.p._cond:
            t.data, t.via = content, via
        reply = self.p.on_data(t) if self.p.on_data else None
        if reply == "DROP":  # the whole message read, the connection closed without a reply
            raise _Drop()
        if reply is None:
            too_big = self.p.size_limit and len(content) > self.p.size_limit
            reply = ("552 5.3.4 Message size exceeds fixed limit" if too_big
                     else f"250 2.0.0 Ok: queued as P{self.s.number}T{len(self.s.transactions)}")
        with self.p._cond:
            t.data_reply, t.accepted = reply, reply.startswith("2")
        self.txn = None
        self.send("DOT", reply)

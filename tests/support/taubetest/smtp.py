"""A byte-exact SMTP client over TCP and TLS, and the small codecs the tests share.

RawClient sends exactly the bytes it is given and reads complete (multi-line) replies; it can
start TLS in place (STARTTLS, RFC 3207) or from the first byte (RFC 8314), and speaks AUTH PLAIN
(RFC 4616) and LOGIN. Every check failure raises SmtpError (an AssertionError, so a test that
meets one fails); a connection the server closed raises ConnectionClosed.
"""

from __future__ import annotations

import base64
import re
import socket
import ssl
import struct
import time

from . import HOST, HOSTNAME


class SmtpError(AssertionError):
    """A reply was malformed or not the one expected."""


class ConnectionClosed(Exception):
    """The server closed the connection before a complete reply."""


class Reply:
    """One complete reply: its lines without CRLF, the code of the last, the raw octets."""

    def __init__(self, lines: list[bytes]):
        self.lines = lines
        self.code = int(lines[-1][:3])
        self.raw = b"".join(l + b"\r\n" for l in lines)

    @property
    def text(self) -> str:
        return "\n".join(l.decode("utf-8", "replace") for l in self.lines)

    @property
    def last(self) -> str:
        return self.lines[-1].decode("utf-8", "replace")

    def __repr__(self) -> str:
        return f"Reply({self.text!r})"


REPLY_LINE_RX = re.compile(rb"^[2-5][0-9][0-9]([ -]|$)")


def client_ctx(cafile=None, minimum=None, maximum=None) -> ssl.SSLContext:
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
    """The AUTH PLAIN initial response (RFC 4616): authzid NUL authcid NUL password."""
    return b64(f"{authzid}\0{user}\0{pw}")


class RawClient:
    """Byte-exact SMTP dialogs: send exact bytes, read complete (multi-line) replies.

    `transcript` records every write and reply (record=False: nothing, for load generators)."""

    def __init__(self, host: str = HOST, port: int = 25, timeout: float = 10.0, *,
                 implicit: bool = False, ctx: ssl.SSLContext | None = None,
                 source: str | None = None, record: bool = True):
        # source: another loopback address as the client IP (Linux routes all of 127/8 to lo)
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source is not None else None)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.record = record
        self.transcript: list[tuple[str, bytes]] = []
        self.tls = False
        if implicit:
            self.wrap(ctx)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    # -- TLS ---------------------------------------------------------------------------------

    def wrap(self, ctx: ssl.SSLContext | None = None) -> None:
        """TLS handshake over the current socket. Bytes already buffered are plaintext the
        server sent after its 220: that is an error the caller should assert on first."""
        self.sock = (ctx or client_ctx()).wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.tls = True

    def starttls(self, ctx: ssl.SSLContext | None = None) -> Reply:
        r = self.expect("220 2.0.0", "STARTTLS")
        if self.buf:
            raise SmtpError(f"server sent plaintext after 220 to STARTTLS: {self.buf!r}")
        self.wrap(ctx)
        return r

    def version(self) -> str | None:
        return self.sock.version() if self.tls else None

    # -- sending and reading -----------------------------------------------------------------

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
        if self.record:
            self.transcript.append(("C", data))
        self.sock.sendall(data)

    def cmd(self, line: bytes | str) -> Reply:
        """Send one command line (CRLF appended) and read its reply."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def bdat(self, chunk: bytes, last: bool = False) -> Reply:
        """Send `BDAT <len> [LAST]` and the chunk, exactly (no CRLF after it); read the reply."""
        self.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk)
        return self.reply()

    def _readline(self) -> bytes:
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise ConnectionClosed(f"connection closed; unterminated data {self.buf!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self) -> Reply:
        """Read one complete reply (all lines of a multi-line reply)."""
        lines = []
        while True:
            line = self._readline()
            if not REPLY_LINE_RX.match(line):
                raise SmtpError(f"malformed reply line {line!r} after {lines!r}")
            if lines and line[:3] != lines[0][:3]:
                raise SmtpError(f"multi-line reply changes code: {lines!r} then {line!r}")
            lines.append(line)
            if len(line) == 3 or line[3:4] == b" ":
                break
        r = Reply(lines)
        if self.record:
            self.transcript.append(("S", r.raw))
        return r

    def replies(self, n: int) -> list[Reply]:
        return [self.reply() for _ in range(n)]

    def expect(self, prefix: str, line: bytes | str | None = None) -> Reply:
        """Optionally send `line`, then read a reply whose last line starts with `prefix`."""
        r = self.cmd(line) if line is not None else self.reply()
        if not r.last.startswith(prefix):
            raise SmtpError(f"after {line!r}: expected reply starting {prefix!r}, got "
                            f"{r.text!r}")
        return r

    def greet(self, helo: str = "EHLO client.test") -> Reply:
        self.expect("220 ")
        return self.expect("250", helo)

    def ehlo(self, name: str = "client.test") -> Reply:
        return self.expect("250", f"EHLO {name}")

    def is_closed(self, timeout: float = 3.0) -> bool:
        """True if the server closes the connection within timeout (pending data is kept in
        `buf`). TCP FIN or RST, and over TLS also a TLS-level end, count as closed."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except ssl.SSLError:
            return True
        except socket.timeout:
            return False

    closed = is_closed

    def read_until_close(self, timeout: float = 3.0) -> bytes:
        self.is_closed(timeout)
        data, self.buf = self.buf, b""
        return data

    # -- transactions ------------------------------------------------------------------------

    def send_message(self, sender: str, rcpts: list[str], body: bytes) -> Reply:
        """MAIL/RCPT/DATA with an already CRLF, already dot-stuffed body (terminator added)."""
        self.expect("250", f"MAIL FROM:<{sender}>")
        for r in rcpts:
            self.expect("25", f"RCPT TO:<{r}>")
        self.expect("354", "DATA")
        if not body.endswith(b"\r\n") and body:
            body += b"\r\n"
        self.send(body + b".\r\n")
        return self.reply()

    def auth_plain(self, user: str, pw: str) -> Reply:
        return self.cmd(f"AUTH PLAIN {plain(user, pw)}")

    def auth_login(self, user: str, pw: str) -> Reply:
        self.expect("334 VXNlcm5hbWU6", "AUTH LOGIN")
        self.expect("334 UGFzc3dvcmQ6", b64(user))
        return self.cmd(b64(pw))


TlsClient = RawClient  # the name the TLS tests use; one client does both


def ehlo_keywords(r: Reply) -> list[str]:
    """The extension lines of an EHLO reply (after the greeting line), upper-cased."""
    return [l[4:].decode().upper() for l in r.lines[1:]]


def dot_stuff(body: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency: a leading '.' on each line is doubled."""
    lines = body.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


QUEUED_RX = re.compile(r"^250 2\.0\.0 Ok: queued as (\S+)$")


def queued_id(reply: Reply) -> str:
    m = QUEUED_RX.match(reply.last)
    if not m:
        raise SmtpError(f"expected '250 2.0.0 Ok: queued as <ID>', got {reply.text!r}")
    return m.group(1)


# -- plain sockets ---------------------------------------------------------------------------


def connect(port: int, timeout: float = 10.0, source: str | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((HOST, port))
    return s


def read_until_close(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """Read until EOF/RST or timeout; returns (data, closed)."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, True
        except socket.timeout:
            return data, False
        if not chunk:
            return data, True
        data += chunk


def abort_rst(sock: socket.socket) -> None:
    """Close with SO_LINGER 0: the peer sees a TCP RST (a client that vanished)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()

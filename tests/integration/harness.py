"""Shared helpers for the integration tests: they drive the REAL taube binary with real clients.

Each test_*.py is one ctest (see tests/CMakeLists.txt), run as
    TAUBE_BIN=<taube> TAUBE_SOURCE_DIR=<repo> python3 tests/integration/test_X.py
Exit status: 0 all passed, 1 something failed, 77 a required external peer (swaks, curl, postfix,
...) is missing, so ctest reports the test as skipped, never as passed.

Everything runs on loopback with ephemeral ports and a fresh temporary directory per server, so
files may run in parallel (ctest -j2).
"""

from __future__ import annotations

import atexit
import email.utils
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

SKIP = 77
HOST = "127.0.0.1"
HOSTNAME = "mx.test"
SOURCE_DIR = Path(os.environ.get("TAUBE_SOURCE_DIR", Path(__file__).resolve().parents[2]))


# --------------------------------------------------------------------------------------------
# Running a test file


def require(*cmds: str) -> None:
    """Exit 77 (ctest: skipped) when an external program the test needs is not installed."""
    for cmd in cmds:
        if shutil.which(cmd) is None and not os.access(cmd, os.X_OK):
            print(f"SKIP: required program {cmd!r} not found", file=sys.stderr)
            sys.exit(SKIP)


def taube_bin() -> str:
    """The binary under test. A missing binary is a failure (it is what we test), not a skip."""
    path = os.environ.get("TAUBE_BIN") or str(SOURCE_DIR / "build" / "taube")
    if not os.access(path, os.X_OK):
        print(f"FAIL: taube binary not found or not executable: {path} (set TAUBE_BIN)",
              file=sys.stderr)
        sys.exit(1)
    return path


def main(*required: str) -> None:
    """unittest entry point: 77 if a peer is missing, else 0/1 with the usual summary."""
    require(*required)
    taube_bin()
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    result = prog.result
    # The plain closing line understood by the CI log reader.
    # A test can fail more than once (in the body and in tearDown; subtests): count tests.
    bad = [t for t, _ in result.failures + result.errors] + list(result.unexpectedSuccesses)
    fixtures = {t.id() for t in bad if isinstance(t, unittest.suite._ErrorHolder)}
    tests = {getattr(t, "test_case", t).id() for t in bad
             if not isinstance(t, unittest.suite._ErrorHolder)}
    failed = len(tests) + len(fixtures)  # setUpModule/tearDownModule failures count too
    passed = max(0, result.testsRun - len(tests) - len(result.skipped))
    print(f"{Path(sys.argv[0]).stem}: {passed} passed, {failed} failed, "
          f"{len(result.skipped)} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)


# --------------------------------------------------------------------------------------------
# Configuration


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r} as TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def to_toml(cfg: dict) -> str:
    """Render a dict as TOML: scalars first, then tables, then lists of tables ([[listener]])."""
    out = []
    for k, v in cfg.items():
        if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)):
            out.append(f"{_toml_key(k)} = {_toml_value(v)}")
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.append(f"\n[{_toml_key(k)}]")
            out.extend(f"{_toml_key(kk)} = {_toml_value(vv)}" for kk, vv in v.items())
    for k, v in cfg.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                out.append(f"\n[[{_toml_key(k)}]]")
                out.extend(f"{_toml_key(kk)} = {_toml_value(vv)}" for kk, vv in item.items())
    return "\n".join(out) + "\n"


def merge(base: dict, over: dict | None) -> dict:
    """Deep-merge `over` into a copy of `base`; a value of None deletes the key."""
    res = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for k, v in (over or {}).items():
        if v is None:
            res.pop(k, None)
        elif isinstance(v, dict) and isinstance(res.get(k), dict):
            res[k] = merge(res[k], v)
        else:
            res[k] = v
    return res


def base_config(mail_root: Path) -> dict:
    return {
        "hostname": HOSTNAME,
        "listener": [{"address": HOST, "port": 0}],
        "delivery": {"mail_root": str(mail_root), "domains": ["localhost", "example.org"]},
        "aliases": {
            "info@example.org": ["alice@example.org", "bob@example.org"],
            "sales@example.org": ["alice@example.org"],
        },
    }


# --------------------------------------------------------------------------------------------
# The server under test


_live: "set[Taube]" = set()


@atexit.register
def _kill_leftovers() -> None:
    """Never leave a server running, even when setUpModule failed half-way (then unittest
    skips tearDownModule)."""
    for srv in list(_live):
        srv.cleanup()


class Taube:
    """One taube process with a generated config in a fresh temp dir, listening on port 0.

    stderr is drained by a thread into `self.log` (a list of str lines) so the pipe never blocks
    and tests can assert on log lines.
    """

    def __init__(self, config: dict | None = None, args: list[str] | None = None,
                 start_timeout: float = 10.0):
        self.dir = Path(tempfile.mkdtemp(prefix="taube-it-"))
        self.mail_root = self.dir / "mail"
        self.config = merge(base_config(self.mail_root), config)
        self.config_path = self.dir / "taube.toml"
        self.config_path.write_text(to_toml(self.config))
        self.args = args or []
        self.log: list[str] = []
        self._log_cond = threading.Condition()
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._start(start_timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    def _start(self, timeout: float) -> None:
        cmd = [taube_bin(), "serve", "--config", str(self.config_path), *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, cwd=self.dir)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        _live.add(self)
        m = self.wait_log(r"listening on 127\.0\.0\.1:(\d+)", timeout)
        if m is None:
            self.kill()
            msg = (f"taube did not report 'listening on' within {timeout}s "
                   f"(exit {self.proc.returncode}); stderr:\n" + self.log_text())
            self.cleanup()
            raise AssertionError(msg)
        self.port = int(m.group(1))

    def _drain(self) -> None:
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_cond:
                self.log.append(line)
                self._log_cond.notify_all()
        with self._log_cond:
            self._log_cond.notify_all()

    def wait_log(self, pattern: str, timeout: float = 5.0, start: int = 0):
        """Wait for a stderr line matching `pattern` (re.search); return the match or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._log_cond:
            while True:
                while i < len(self.log):
                    m = rx.search(self.log[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self._log_cond.wait(min(left, 0.1))

    def log_text(self) -> str:
        with self._log_cond:
            return "\n".join(self.log)

    def terminate(self) -> None:
        """Send SIGTERM without waiting."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self, timeout: float = 15.0) -> int:
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"taube did not exit within {timeout}s after SIGTERM; stderr:\n"
                                 + self.log_text())
        self._reader.join(5)
        return self.returncode

    def stop(self, check: bool = True) -> int:
        """SIGTERM and wait; with check, assert a clean exit 0 (the spec for SIGTERM)."""
        if self.proc.poll() is not None:
            self._reader.join(5)
            if check:
                raise AssertionError(f"taube had already died (exit status "
                                     f"{self.proc.returncode}) before SIGTERM; stderr:\n"
                                     + self.log_text()[-8000:])
            return self.proc.returncode
        self.terminate()
        rc = self.wait_exit()
        if check and rc != 0:
            raise AssertionError(f"taube exited {rc} after SIGTERM, expected 0; stderr:\n"
                                 + self.log_text())
        return rc

    def assert_alive(self) -> None:
        """Fail at once (with the log) if the server process has died."""
        if self.proc.poll() is not None:
            raise AssertionError(f"taube died with exit status {self.proc.returncode}; "
                                 f"stderr:\n" + self.log_text()[-8000:])

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def cleanup(self) -> None:
        _live.discard(self)
        self.kill()
        self._reader.join(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        if os.environ.get("TAUBE_KEEP_TMP"):
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- mail --------------------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        """Default Maildir of a recipient: <mail_root>/<domain>/<localpart lowercased>."""
        local, _, domain = address.rpartition("@")
        return self.mail_root / domain.lower() / local.lower()

    def client(self, timeout: float = 10.0) -> "RawClient":
        return RawClient(HOST, self.port, timeout)


# --------------------------------------------------------------------------------------------
# Maildir


def maildir_messages(maildir: Path) -> list[Path]:
    settle(Path(maildir).parent.parent)
    new = Path(maildir) / "new"
    if not new.is_dir():
        return []
    return sorted((p for p in new.iterdir() if p.is_file() and not p.name.startswith(".")),
                  key=lambda p: (p.stat().st_mtime_ns, p.name))


def maildir_tmp(maildir: Path) -> list[Path]:
    tmp = Path(maildir) / "tmp"
    return list(tmp.iterdir()) if tmp.is_dir() else []


def wait_messages(maildir: Path, n: int, timeout: float = 10.0) -> list[Path]:
    """Wait until maildir/new holds at least n messages; return them (may be fewer on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = maildir_messages(maildir)
        if len(msgs) >= n or time.monotonic() > deadline:
            return msgs
        time.sleep(0.05)


def all_maildirs(mail_root: Path) -> list[Path]:
    """Every Maildir (a directory holding new/) under mail_root."""
    root = Path(mail_root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.rglob("new") if p.is_dir())


def count_all_messages(mail_root: Path) -> int:
    settle(mail_root)
    return sum(len(maildir_messages(m)) for m in all_maildirs(mail_root))


def tmp_leftovers(mail_root: Path) -> list[Path]:
    return [f for m in all_maildirs(mail_root) for f in maildir_tmp(m)]


def _fd_targets(pid: int | str):
    """What each open descriptor of process `pid` points to."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return
    for fd in fds:
        try:
            yield os.readlink(fd)
        except OSError:
            continue


def _in_a_tmp(root: str, target: str) -> bool:
    return target.startswith(root + "/") and "/tmp/" in target[len(root):]


def open_temp_files(pid: int, mail_root: Path) -> list[str]:
    """Temp files the server holds open under `mail_root`: named ones in a tmp/ and anonymous
    (O_TMPFILE) ones, which /proc shows as "<dir>/tmp/#<inode> (deleted)"."""
    root = str(Path(mail_root).resolve())
    return [t for t in _fd_targets(pid) if _in_a_tmp(root, t)]


def _temp_file_open_under(root: str) -> bool:
    """Whether any process holds a file open in a tmp/ below `root`."""
    return any(_in_a_tmp(root, t) for proc in Path("/proc").iterdir() if proc.name.isdigit()
               for t in _fd_targets(proc.name))


def settle(mail_root: Path, timeout: float = 5.0) -> None:
    """Waits until the messages the server has accepted are in their Maildirs. With the delivery
    journal (the default) a 250 means the message is durable in the journal, and its Maildir
    file follows a few milliseconds later; until then the server holds the file open in a tmp/
    (anonymous, O_TMPFILE). Returns when no process holds such a file any more (or at timeout:
    a session may be stuck mid-transaction on purpose)."""
    root = str(Path(mail_root).resolve())
    deadline = time.monotonic() + timeout
    while _temp_file_open_under(root) and time.monotonic() < deadline:
        time.sleep(0.005)


class Stored:
    """A message as Taube stored it: its Return-Path and Received prefix, then the content."""

    # Lenient parse (the TCP-info comment may lack the helo name) so that one formatting
    # deviation does not mask every other check; test_smtplib's
    # test_received_header_exact_format holds the documented format:
    #   from <helo> (<helo> [<ip>]) by <hostname> (Taube) with ESMTP id <ID> for <rcpt>; <date>
    RECEIVED_RX = re.compile(
        r"^from (?P<helo>\S+) \((?:(?P<helo2>[^\s\[]+) )?\[(?:IPv6:)?(?P<ip>[0-9a-fA-F.:]+)\]\) "
        r"(?:\(Authenticated sender: (?P<auth>[^)]*)\) )?"
        r"by (?P<by>\S+) \(Taube\) with (?P<with>\S+)(?: \((?P<tls>[^)]*)\))? id (?P<id>\S+)"
        r"(?: for <(?P<for>[^>]*)>)?; (?P<date>.+)$")

    def __init__(self, raw: bytes):
        self.raw = raw
        if b"\r\n" in raw:
            raise AssertionError(f"stored message contains CRLF, expected LF line endings: "
                                 f"{raw[:200]!r}")
        # First line: Return-Path.
        first, sep, rest = raw.partition(b"\n")
        m = re.fullmatch(rb"Return-Path: <(.*)>", first)
        if not sep or not m:
            raise AssertionError(f"stored message does not start with Return-Path: {raw[:200]!r}")
        self.return_path = m.group(1).decode("utf-8", "replace")
        # Second header: Received, possibly folded over several lines.
        if not rest.startswith(b"Received:"):
            raise AssertionError(f"no Received header after Return-Path: {raw[:300]!r}")
        lines = []
        while True:
            line, sep, rest = rest.partition(b"\n")
            lines.append(line)
            if not sep:
                raise AssertionError(f"truncated Received header: {raw[:300]!r}")
            if not rest[:1] in (b" ", b"\t"):
                break
        self.received_raw = b"\n".join(lines)
        unfolded = self.received_raw.decode("utf-8", "replace")[len("Received:"):]
        self.received = re.sub(r"\s+", " ", unfolded.replace("\n", "")).strip()
        self.content = rest
        rm = self.RECEIVED_RX.match(self.received)
        if not rm:
            raise AssertionError(f"Received header does not match the documented format: "
                                 f"{self.received!r}")
        self.r = rm.groupdict()
        try:
            self.date = email.utils.parsedate_to_datetime(self.r["date"])
        except (TypeError, ValueError):
            raise AssertionError(f"Received date is not an RFC 5322 date: {self.r['date']!r}")
        if self.date.tzinfo is None:
            raise AssertionError(f"Received date has no zone: {self.r['date']!r}")

    @property
    def queue_id(self) -> str:
        return self.r["id"]


def read_stored(path: Path) -> Stored:
    return Stored(Path(path).read_bytes())


def wire_to_stored(wire: bytes) -> bytes:
    """What Taube must store for a CRLF-clean DATA payload that was already dot-unstuffed."""
    return wire.replace(b"\r\n", b"\n")


def dot_stuff(body: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency: a leading '.' on each line is doubled."""
    lines = body.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


# --------------------------------------------------------------------------------------------
# Raw socket client


class Reply:
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


class ConnectionClosed(Exception):
    pass


class RawClient:
    """Byte-exact SMTP dialogs: send exact bytes, read complete (multi-line) replies."""

    def __init__(self, host: str, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.transcript: list[tuple[str, bytes]] = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes | str) -> None:
        if isinstance(data, str):
            data = data.encode()
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
            if not re.match(rb"^[2-5][0-9][0-9]([ -]|$)", line):
                raise AssertionError(f"malformed reply line {line!r} after {lines!r}")
            if lines and line[:3] != lines[0][:3]:
                raise AssertionError(f"multi-line reply changes code: {lines!r} then {line!r}")
            lines.append(line)
            if len(line) == 3 or line[3:4] == b" ":
                break
        r = Reply(lines)
        self.transcript.append(("S", r.raw))
        return r

    def replies(self, n: int) -> list[Reply]:
        return [self.reply() for _ in range(n)]

    def expect(self, prefix: str, line: bytes | str | None = None) -> Reply:
        """Optionally send `line`, then read a reply whose last line starts with `prefix`."""
        r = self.cmd(line) if line is not None else self.reply()
        if not r.last.startswith(prefix):
            raise AssertionError(f"after {line!r}: expected reply starting {prefix!r}, got "
                                 f"{r.text!r}")
        return r

    def greet(self, helo: str = "EHLO client.test") -> Reply:
        self.expect("220 ")
        return self.expect("250", helo)

    def is_closed(self, timeout: float = 3.0) -> bool:
        """True if the server closes the connection within timeout (pending data is discarded)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

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


QUEUED_RX = re.compile(r"^250 2\.0\.0 Ok: queued as (\S+)$")


def queued_id(reply: Reply) -> str:
    m = QUEUED_RX.match(reply.last)
    if not m:
        raise AssertionError(f"expected '250 2.0.0 Ok: queued as <ID>', got {reply.text!r}")
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# A private Postfix instance (never the system one, never port 25)


_live_postfix: "set[PrivatePostfix]" = set()


@atexit.register
def _stop_postfix_leftovers() -> None:
    for pf in list(_live_postfix):
        pf.cleanup()


class PrivatePostfix:
    """Postfix with its own config_directory/queue in a temp dir, smtpd on a free loopback port,
    relaying everything to [127.0.0.1]:relay_port."""

    SERVICES = {"pickup", "cleanup", "qmgr", "rewrite", "bounce", "defer", "trace", "smtp",
                "showq", "flush", "postlog", "relay", "error", "retry", "anvil", "scache",
                "verify", "proxymap", "proxywrite", "discard", "tlsmgr"}

    def __init__(self, relay_port: int, extra_main: dict | None = None):
        self.dir = Path(tempfile.mkdtemp(prefix="taube-pf-"))
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "conf"
        self.conf.mkdir()
        self.port = free_port()
        main = {
            "queue_directory": str(self.dir / "queue"),
            "data_directory": str(self.dir / "data"),
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "relayhost": f"[127.0.0.1]:{relay_port}",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "compatibility_level": "3.6",
            "maillog_file": str(self.dir / "maillog"),
            "maillog_file_prefixes": str(self.dir),
            "myhostname": "pf.test",
            "mydomain": "pf.test",
            "myorigin": "pf.test",
            "mynetworks": "127.0.0.0/8",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtp_host_lookup": "native",
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "smtpd_peername_lookup": "no",
            "biff": "no",
            "queue_run_delay": "5s",
            "minimal_backoff_time": "5s",
            "maximal_backoff_time": "10s",
            "smtp_connect_timeout": "5s",
            "shlib_directory": subprocess.run(
                ["postconf", "-c", "/usr/share/postfix", "-dh", "shlib_directory"],
                capture_output=True, text=True).stdout.strip() or "/usr/lib/postfix",
            "meta_directory": "/etc/postfix",
        }
        if extra_main:
            main.update(extra_main)
        if not main["shlib_directory"].startswith("/"):
            main["shlib_directory"] = "/usr/lib/postfix"
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        (self.conf / "master.cf").write_text(self._master_cf())
        # postfix check creates the queue subdirectories, not the queue directory itself.
        (self.dir / "queue").mkdir(mode=0o755)
        (self.dir / "data").mkdir(mode=0o700)
        pw = pwd.getpwnam("postfix")
        os.chown(self.dir / "data", pw.pw_uid, pw.pw_gid)
        self.started = False

    def _master_cf(self) -> str:
        """/etc/postfix/master.cf, minus the smtp inet line, plus our smtpd; chroot off (our queue
        directory holds no chroot jail), only the services we need."""
        src = Path("/etc/postfix/master.cf")
        out = [f"127.0.0.1:{self.port} inet n - n - - smtpd\n"]
        keep = False
        for line in src.read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t":
                if keep:
                    out.append(line + "\n")
                continue
            f = line.split()
            keep = len(f) >= 8 and f[1] != "inet" and f[0] in self.SERVICES
            if keep:
                f[4] = "n"  # chroot
                out.append(" ".join(f[:8]) + (" " + " ".join(f[8:]) if f[8:] else "") + "\n")
        return "".join(out)

    def _postfix(self, *args: str, check: bool = True, timeout: float = 60):
        p = subprocess.run(["postfix", "-c", str(self.conf), *args], capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            # Without syslog the postfix command reports errors only on a terminal: re-run the
            # (idempotent) check under script(1) to show why.
            diag = ""
            if shutil.which("script"):
                d = subprocess.run(["script", "-qec", f"postfix -c {self.conf} check",
                                    "/dev/null"], capture_output=True, text=True, timeout=timeout)
                diag = d.stdout + d.stderr
            raise AssertionError(f"postfix {' '.join(args)} failed ({p.returncode}):\n"
                                 f"{p.stdout}{p.stderr}{diag}\nmaillog:\n{self.maillog()}")
        return p

    def start(self) -> None:
        _live_postfix.add(self)
        self._postfix("check")
        self._postfix("start")
        self.started = True
        # Wait for smtpd to accept.
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.settimeout(5)
                    if s.recv(512).startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"private postfix smtpd not answering on {self.port}; "
                                     f"maillog:\n{self.maillog()}")
            time.sleep(0.2)

    def flush(self) -> None:
        self._postfix("flush", check=False)

    def queue_listing(self) -> str:
        p = subprocess.run(["postqueue", "-c", str(self.conf), "-p"], capture_output=True,
                           text=True, timeout=30)
        return p.stdout + p.stderr

    def maillog(self) -> str:
        try:
            return (self.dir / "maillog").read_text(errors="replace")
        except OSError:
            return "(no maillog)"

    def stop(self) -> None:
        if self.started:
            self._postfix("stop", check=False)
            self.started = False
            # master exits asynchronously; wait for its pid file lock to go away.
            pid_file = self.dir / "queue" / "pid" / "master.pid"
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    pid = int(pid_file.read_text().strip())
                    os.kill(pid, 0)
                except (OSError, ValueError):
                    break
                time.sleep(0.2)

    def cleanup(self) -> None:
        _live_postfix.discard(self)
        self.stop()
        if not os.environ.get("TAUBE_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

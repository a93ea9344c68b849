"""Helpers for the robustness tests (issue 4): crash consistency, disk faults, limits, hostile
input. Builds on harness.py (not modified here).

- RTaube: a harness.Taube that can listen on a fixed port, use an arbitrary mail root (a tmpfs),
  and be killed with SIGKILL and restarted on the same port and mail root.
- rss_kb()/RssSampler: the server's resident set size from /proc/<pid>/status (VmRSS).
- make_body()/marker_of()/check_store(): messages with a unique marker, and a full check of every
  file in every new/ and cur/ against what was sent (complete, byte-exact, no duplicates).
"""

from __future__ import annotations

import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

LISTEN_RX = r"listening on 127\.0\.0\.1:(\d+)"


# --------------------------------------------------------------------------------------------
# A server that can be killed and restarted


class RTaube(h.Taube):
    """harness.Taube plus: fixed port (restartable), explicit mail root, kill -9 and restart.

    `self.log` accumulates the stderr of every incarnation; `self.starts` holds the index in
    `self.log` at which each incarnation began."""

    def __init__(self, config: dict | None = None, port: int | None = None,
                 mail_root: Path | None = None, start_timeout: float = 10.0):
        self.fixed_port = port
        self.starts: list[int] = []
        cfg = dict(config or {})
        if port is not None:
            cfg["listener"] = [{"address": h.HOST, "port": port}]
        if mail_root is not None:
            cfg = h.merge(cfg, {"delivery": {"mail_root": str(mail_root)}})
        super().__init__(cfg, start_timeout=start_timeout)
        self.mail_root = Path(self.config["delivery"]["mail_root"])

    def _start(self, timeout: float) -> None:
        # Like harness.Taube._start, but only looks at this incarnation's log lines.
        import subprocess as sp
        mark = len(self.log)
        self.starts.append(mark)
        cmd = [h.taube_bin(), "serve", "--config", str(self.config_path), *self.args]
        self.proc = sp.Popen(cmd, stdin=sp.DEVNULL, stdout=sp.DEVNULL, stderr=sp.PIPE,
                             cwd=self.dir)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        h._live.add(self)
        m = self.wait_log(LISTEN_RX, timeout, start=mark)
        if m is None:
            self.kill()
            msg = (f"taube did not report 'listening on' within {timeout}s "
                   f"(exit {self.proc.returncode}); stderr:\n" + self.log_text()[-6000:])
            self.cleanup()
            raise AssertionError(msg)
        self.port = int(m.group(1))

    def kill9(self) -> int:
        """SIGKILL (no chance to clean up) and reap; returns the exit status (-9)."""
        self.proc.kill()
        rc = self.proc.wait(10)
        self._reader.join(5)
        return rc

    def restart(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            raise AssertionError("restart() while the previous process still runs")
        if self.proc.stderr:
            self.proc.stderr.close()
        self._start(timeout)

    def log_since_start(self) -> str:
        with self._log_cond:
            return "\n".join(self.log[self.starts[-1]:])

    @property
    def pid(self) -> int:
        return self.proc.pid


# --------------------------------------------------------------------------------------------
# Memory


def rss_kb(pid: int) -> int:
    """VmRSS of a process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread; `peak` in KiB."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid = pid
        self.interval = interval
        self.base = rss_kb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(5)
        self.peak = max(self.peak, rss_kb(self.pid))

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.base) / 1024.0


# --------------------------------------------------------------------------------------------
# Messages with a unique marker


SENDER = "sender@example.org"
MARKER_RX = re.compile(rb"^Message-ID: <(m-[0-9a-z-]+)@robust\.test>$", re.M)


def make_body(marker: str, size: int, rng: random.Random | None = None) -> bytes:
    """A CRLF message of about `size` octets: headers with the marker, lines that start with
    '.', and a final line naming the marker (so a truncated copy is recognisable)."""
    rng = rng or random.Random(marker)
    head = (f"From: <{SENDER}>\r\nTo: <undisclosed-recipients:;>\r\n"
            f"Subject: robustness {marker}\r\nMessage-ID: <{marker}@robust.test>\r\n\r\n").encode()
    lines = []
    n = len(head)
    i = 0
    while n < size:
        # Varying line lengths (<= 998), some starting with '.', deterministic per marker.
        k = rng.randrange(0, 200)
        line = (b"." if i % 7 == 3 else b"") + f"{marker} line {i} ".encode() + b"x" * k
        lines.append(line)
        n += len(line) + 2
        i += 1
    lines.append(f"END {marker}".encode())
    return head + b"\r\n".join(lines) + b"\r\n"


def expected_stored_content(body: bytes) -> bytes:
    """What follows Taube's Return-Path and Received headers in the stored file."""
    return h.wire_to_stored(body)


def marker_of(content: bytes) -> str | None:
    m = MARKER_RX.search(content.split(b"\n\n", 1)[0])
    return m.group(1).decode() if m else None


def store_files(mail_root: Path) -> list[Path]:
    """Every file in every new/ and cur/ under the mail root (once accepted messages are there)."""
    h.settle(mail_root)
    out = []
    for md in h.all_maildirs(mail_root):
        for sub in ("new", "cur"):
            d = md / sub
            if d.is_dir():
                out.extend(p for p in d.iterdir() if p.is_file())
    return sorted(out)


def tmp_files(mail_root: Path) -> list[Path]:
    """Every entry of every tmp/ directory under the mail root (also of broken Maildirs whose
    new/ is not a directory, which harness.tmp_leftovers does not see)."""
    root = Path(mail_root)
    if not root.is_dir():
        return []
    return sorted(f for d in root.rglob("tmp") if d.is_dir() for f in d.iterdir())


def check_store(mail_root: Path, sent: dict[str, bytes]) -> dict[tuple[str, str], int]:
    """Parse every stored file; each must be a complete, byte-exact copy of a message in `sent`
    (marker -> CRLF body as sent). Returns {(marker, maildir): count}; raises AssertionError
    naming the first bad file."""
    seen: dict[tuple[str, str], int] = {}
    for p in store_files(mail_root):
        raw = p.read_bytes()
        try:
            st = h.Stored(raw)
        except AssertionError as e:
            raise AssertionError(f"{p}: not a complete stored message ({len(raw)} bytes): {e}")
        mk = marker_of(st.content)
        if mk is None:
            raise AssertionError(f"{p}: no marker in the headers ({len(raw)} bytes): "
                                 f"{raw[:300]!r}")
        if mk not in sent:
            raise AssertionError(f"{p}: marker {mk} was never sent")
        want = expected_stored_content(sent[mk])
        if st.content != want:
            raise AssertionError(
                f"{p}: content differs from what was sent for {mk}: stored {len(st.content)} "
                f"bytes, sent {len(want)}; stored tail {st.content[-80:]!r}, "
                f"expected tail {want[-80:]!r}")
        key = (mk, str(p.parent.parent))
        seen[key] = seen.get(key, 0) + 1
    return seen


# --------------------------------------------------------------------------------------------
# Sockets


def connect(port: int, timeout: float = 10.0, source: str | None = None) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((h.HOST, port))
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
    import struct
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def normal_transaction(srv: h.Taube, rcpt: str = "alice@localhost", tag: str = "final",
                       timings: dict | None = None) -> float:
    """A complete, ordinary transaction (EHLO, MAIL, RCPT, DATA, QUIT); returns its duration and
    asserts the message arrived complete. `timings`, if given, gets "connect" (the TCP
    handshake, done by the kernel before the server accepts) and "dialog" (greeting to 221)."""
    marker = f"m-{tag}-{random.getrandbits(40):x}"
    body = make_body(marker, 2000)
    md = srv.maildir(rcpt)
    before = len(h.maildir_messages(md))
    t0 = time.monotonic()
    with srv.client() as c:
        t_conn = time.monotonic()
        if timings is not None:
            timings["connect"] = t_conn - t0
        c.greet()
        h.queued_id(c.send_message(SENDER, [rcpt], h.dot_stuff(body)))
        c.expect("221", "QUIT")
    dt = time.monotonic() - t0
    if timings is not None:
        timings["dialog"] = time.monotonic() - t_conn
    msgs = h.wait_messages(md, before + 1, timeout=5)
    found = [m for m in msgs if marker_of(h.read_stored(m).content) == marker]
    if len(found) != 1:
        raise AssertionError(f"normal transaction {marker}: {len(found)} copies in {md}")
    if h.read_stored(found[0]).content != expected_stored_content(body):
        raise AssertionError(f"normal transaction {marker}: stored content differs")
    return dt


def report(name: str, **values) -> None:
    """One measurement line on stderr (quoted in docs/robustness.md)."""
    vals = " ".join(f"{k}={v}" for k, v in values.items())
    print(f"MEASURE {name}: {vals}", file=sys.stderr, flush=True)


def raise_nofile(n: int) -> int:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard) if hard != resource.RLIM_INFINITY else max(soft, n)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def have_cmd(cmd: str) -> bool:
    import shutil
    return shutil.which(cmd) is not None


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)

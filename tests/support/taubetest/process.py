"""Child processes on loopback: any server (Child) and the real taube binary (Taube).

Every child is registered until cleaned up, and whatever is left when Python exits is killed
(even when a setUpModule failed half-way and unittest skipped tearDownModule).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

from . import HOST, SOURCE_DIR
from .config import base_config, merge, to_toml

LISTEN_RX = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
READY_RX = re.compile(r"taube \S+ ready: ")


def taube_bin() -> str:
    """The binary under test (TAUBE_BIN, else build/taube). A missing binary is a failure (it is
    what we test), not a skip: exit 1."""
    path = os.environ.get("TAUBE_BIN") or str(SOURCE_DIR / "build" / "taube")
    if not os.access(path, os.X_OK):
        print(f"FAIL: taube binary not found or not executable: {path} (set TAUBE_BIN)",
              file=sys.stderr)
        sys.exit(1)
    return os.path.abspath(path)  # servers run in their own directory


def free_port() -> int:
    """A loopback port that was free a moment ago (for servers that cannot listen on port 0)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_smtp(port, timeout: float, alive=lambda: True) -> bool:
    """Wait until something answers with a 220 greeting (then QUIT): on loopback `port`, or on
    the unix socket at `port` when it is a path. False on timeout or as soon as `alive()` says
    the server is gone."""
    def connect() -> socket.socket:
        if isinstance(port, int):
            return socket.create_connection((HOST, port), timeout=2)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(str(port))
        except OSError:
            s.close()
            raise
        return s

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with connect() as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    try:
                        s.sendall(b"QUIT\r\n")
                        s.recv(512)
                    except OSError:
                        pass
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


_live: "set[Child]" = set()


@atexit.register
def _kill_leftovers() -> None:
    """Never leave a server running."""
    for child in list(_live):
        child.cleanup()



def thread_stacks(pid: int) -> str:
    """Every thread's stack of a process that hangs (gdb attached in batch mode), for the
    failure message: a hang that shows once in a hundred runs must be diagnosable from that
    one log. Empty when gdb is missing or cannot attach."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return ""
    try:
        out = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                              "-ex", "thread apply all bt"], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return "\nthreads of the hung process (gdb):\n" + out[-20000:]

class Child:
    """One child process. Its output goes either to `log_file` (appended) or, without one, its
    stderr is drained by a thread into `self.log` (a list of str lines, so the pipe never blocks
    and tests can assert on log lines; stdout is discarded)."""

    name = "child"

    def __init__(self, cmd: list[str], cwd: Path, log_file: Path | None = None,
                 env: dict | None = None):
        self.cmd = cmd
        self.cwd = Path(cwd)
        self.env = env  # None: the test's own environment
        self.log_file = log_file
        self.log: list[str] = []
        self._log_cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._log_f = None
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    def spawn(self) -> None:
        if self.log_file is not None:
            self._log_f = open(self.log_file, "ab")
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._log_f,
                                         stderr=self._log_f, cwd=self.cwd, env=self.env)
            self._reader = None
        else:
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         cwd=self.cwd, env=self.env)
            self._reader = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
            self._reader.start()
        _live.add(self)

    def _drain(self, proc: subprocess.Popen) -> None:
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._log_cond:
                self.log.append(line)
                self._log_cond.notify_all()
        with self._log_cond:
            self._log_cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _reading(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def lines(self) -> list[str]:
        """Every log line so far (from the pipe or the log file)."""
        if self.log_file is None:
            with self._log_cond:
                return list(self.log)
        try:
            return self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def wait_log(self, pattern: str | re.Pattern, timeout: float = 5.0, start: int = 0):
        """Wait for a log line (index >= start) matching `pattern` (re.search); return the match,
        or None at timeout or once the process has exited and its output is read."""
        return self.find_log(pattern, timeout, start)[1]

    def find_log(self, pattern: str | re.Pattern, timeout: float = 5.0, start: int = 0):
        """Like wait_log, but returns (index of the line, match), or (None, None)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._log_cond:
            while True:
                lines = self.log if self.log_file is None else self.lines()
                while i < len(lines):
                    m = rx.search(lines[i])
                    if m:
                        return i, m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reading()):
                    return None, None
                self._log_cond.wait(min(left, 0.1))

    def log_text(self) -> str:
        return "\n".join(self.lines())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> str:
        rc = self.proc.poll() if self.proc else None
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return f"killed by {signal.Signals(-rc).name}"
            except ValueError:
                return f"killed by signal {-rc}"
        return f"exit {rc}"

    def terminate(self) -> None:
        """Send SIGTERM without waiting."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def halt(self, timeout: float = 10.0) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL; no judgement of the exit status."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.cleanup()

    def _close_output(self) -> None:
        if self._reader is not None:
            self._reader.join(5)
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
        if self._log_f is not None:
            self._log_f.close()
            self._log_f = None

    def cleanup(self) -> None:
        _live.discard(self)
        self.kill()
        self._close_output()


class Taube(Child):
    """One `taube serve` process with a config file in a fresh temp dir, listening on loopback.

    The config is `config` merged over base_config() (defaults=False: `config` alone), or the
    TOML text `toml` as it is (then `--mail-root` is passed on the command line). With `port`
    the one listener is on that fixed port, so the server can be killed (kill9) and restarted
    on the same port and mail root; `self.log` accumulates the stderr of every incarnation and
    `self.starts` holds the index in `self.log` at which each began. Readiness: the `listening
    on` line of every listener (ready="log", their ports in `self.ports`, the first in
    `self.port`), or a 220 greeting on the fixed `port` (ready="smtp", for log levels that hide
    the line). `root` (kept at cleanup) replaces the temp dir; `log_file` replaces the pipe.
    """

    name = "taube"

    def __init__(self, config: dict | None = None, args: list[str] | None = None,
                 start_timeout: float = 10.0, *, port: int | None = None,
                 mail_root: Path | None = None, defaults: bool = True, toml: str | None = None,
                 root: Path | None = None, log_file: Path | None = None,
                 binary: str | None = None, ready: str = "log", env: dict | None = None):
        if ready not in ("log", "smtp") or (ready == "smtp" and port is None):
            raise ValueError("ready must be 'log', or 'smtp' with a fixed port")
        self._own_dir = root is None
        self.dir = Path(tempfile.mkdtemp(prefix="taube-it-")) if root is None else Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fixed_port = port
        self.args = list(args or [])
        if toml is not None:
            self.config = tomllib.loads(toml)
            self.mail_root = Path(mail_root) if mail_root is not None else self.dir / "mail"
            self.args += ["--mail-root", str(self.mail_root)]
            text = toml
        else:
            cfg = dict(config or {})
            if port is not None:
                cfg["listener"] = [{"address": HOST, "port": port}]
            if mail_root is not None:
                cfg = merge(cfg, {"delivery": {"mail_root": str(mail_root)}})
            self.config = merge(base_config(self.dir / "mail"), cfg) if defaults else cfg
            self.mail_root = Path(self.config.get("delivery", {}).get("mail_root",
                                                                      self.dir / "mail"))
            text = to_toml(self.config)
        self.config_path = self.dir / "taube.toml"
        self.config_path.write_text(text)
        self.ready = ready
        listen_args = self.args.count("--listen")
        self.listeners = listen_args or max(1, len(self.config.get("listener", [])))
        self.starts: list[int] = []
        self.port: int | None = None
        self.ports: list[int] = []
        super().__init__([binary or taube_bin(), "serve", "--config", str(self.config_path),
                          *self.args], self.dir, log_file, env)
        self._start(start_timeout)

    # -- lifecycle ---------------------------------------------------------------------------

    def _start(self, timeout: float) -> None:
        mark = len(self.log)
        self.starts.append(mark)
        self.spawn()
        if self.ready == "smtp":
            if not wait_smtp(self.fixed_port, timeout, self.alive):
                self._failed_start(f"taube did not answer on port {self.fixed_port} within "
                                   f"{timeout}s")
            self.port = self.fixed_port
            self.ports = [self.fixed_port]
            return
        deadline = time.monotonic() + timeout
        ports: list[int] = []
        i = mark
        while len(ports) < self.listeners:
            k, m = self.find_log(LISTEN_RX, max(0.0, deadline - time.monotonic()), start=i)
            if m is None:
                self._failed_start(f"taube did not report 'listening on' "
                                   f"{self.listeners} time(s) within {timeout}s (got {ports})")
            ports.append(int(m.group(1)))
            i = k + 1
        # The signal handlers are installed after the listeners and before the "ready" line: a
        # SIGTERM sent between "listening on" and "ready" would kill the server (exit -15).
        k, m = self.find_log(READY_RX, max(0.0, deadline - time.monotonic()), start=i)
        if m is None:
            self._failed_start(f"taube did not report 'ready' within {timeout}s")
        self.ports = ports
        self.port = ports[0]

    def _failed_start(self, what: str) -> None:
        self.kill()
        self._close_output()
        msg = f"{what} (exit {self.proc.returncode}); stderr:\n" + self.log_text()[-8000:]
        self.cleanup()
        raise AssertionError(msg)

    def wait_exit(self, timeout: float = 15.0) -> int:
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = thread_stacks(self.proc.pid)
            self.kill()
            raise AssertionError(f"taube did not exit within {timeout}s after SIGTERM; stderr:\n"
                                 + self.log_text() + stacks)
        if self._reader is not None:
            self._reader.join(5)
        return self.returncode

    def stop(self, check: bool = True) -> int:
        """SIGTERM and wait; with check, assert a clean exit 0 (the spec for SIGTERM)."""
        if self.proc.poll() is not None:
            if self._reader is not None:
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

    def kill9(self) -> int:
        """SIGKILL (no chance to clean up) and reap; returns the exit status (-9)."""
        self.proc.kill()
        rc = self.proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        return rc

    def restart(self, timeout: float = 10.0) -> None:
        """Start the next incarnation (same config, same fixed port if any, same mail root)."""
        if self.proc.poll() is None:
            raise AssertionError("restart() while the previous process still runs")
        self._close_output()
        self._start(timeout)

    def log_since_start(self) -> str:
        with self._log_cond:
            return "\n".join(self.log[self.starts[-1]:])

    def cleanup(self) -> None:
        super().cleanup()
        if not self._own_dir:
            return
        if os.environ.get("TAUBE_KEEP_TMP"):
            print(f"kept {self.dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- mail --------------------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        """Default Maildir of a recipient: <mail_root>/<domain>/<localpart lowercased>."""
        local, _, domain = address.rpartition("@")
        return self.mail_root / domain.lower() / local.lower()

    def client(self, listener_index: int = 0, implicit: bool = False, timeout: float = 10.0,
               source: str | None = None):
        """A RawClient connected to listener `listener_index` (TLS from the start if
        `implicit`; from loopback address `source` if given)."""
        from .smtp import RawClient
        return RawClient(HOST, self.ports[listener_index], timeout, implicit=implicit,
                         source=source)

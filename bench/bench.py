#!/usr/bin/env python3
"""Side-by-side benchmark: Taube vs a private Postfix, aiosmtpd (fsync Maildir) and smtp-sink.

Run through bench/run.sh (`make bench`); see bench/README.md for what each figure means.

    bench.py [--smoke | --quick] [--taube BIN] [--write-results FILE] [--command TEXT]

Standard library only. Everything (configs, queues, Maildirs, logs) lives in one temp dir that is
removed at the end (BENCH_KEEP_TMP=1 keeps it). Servers listen on free loopback ports.
Exit status: 0 = completed and no message was lost; 1 = some run failed or lost messages
(the table is still printed / written); 2 = the harness itself could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import pwd
import grp
import hashlib
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HOST = "127.0.0.1"
DOMAIN = "bench.test"
SENDER = f"from@{DOMAIN}"
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
KIB = 1024
MIB = 1024 * 1024
SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
SYS_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable

# (sessions, message size, message count) per throughput point.
PROFILES = {
    "full": dict(reps=3,
                 points=[(1, KIB, 1000), (10, KIB, 3000), (100, KIB, 10000), (10, 100 * KIB, 1000)],
                 idle=[1000, 10000], idle_postfix=1000, big=100 * MIB, lat_tx=1000),
    "quick": dict(reps=1,
                  points=[(1, KIB, 1000), (10, KIB, 3000), (100, KIB, 10000), (10, 100 * KIB, 1000)],
                  idle=[1000, 10000], idle_postfix=1000, big=100 * MIB, lat_tx=1000),
    "smoke": dict(reps=1,
                  points=[(1, KIB, 50), (10, KIB, 200), (100, KIB, 300), (10, 100 * KIB, 50)],
                  idle=[200, 1000], idle_postfix=100, big=8 * MIB, lat_tx=100),
}
LAT_SESSIONS = 10

# Targets for Taube (issue 5): ratio to Postfix on delivered/s.
RATIO_TARGETS = {1: 2.0, 10: 3.0, 100: 5.0}
DISCARD_TARGETS = {10: 1.0, 100: 1.0}  # Taube (discard) / smtp-sink, 1 KiB, accepted/s
IDLE_TARGET_KIB = 8.0          # per idle connection at 10k
BIG_GROWTH_TARGET_MIB = 16.0   # peak RSS growth for one 100 MiB message


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Small helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_smtp(port: int, timeout: float, alive=lambda: True) -> bool:
    """Wait until something on port answers with a 220 greeting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            return False
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
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


def proc_status(pid: int, field: str) -> int | None:
    """A kB field (VmRSS, VmHWM) of /proc/PID/status."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process `pid` (all its threads, live and exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the comm: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """root and all its descendants."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def count_files(d: Path) -> int:
    try:
        return sum(1 for _ in os.scandir(d))
    except FileNotFoundError:
        return 0


def last_line(data: bytes) -> str:
    lines = data.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no message)"


def tail(path: Path, n: int = 8) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def message_bytes(size: int, to: str, seq: int = 0) -> bytes:
    """A message of about `size` bytes of body, CRLF lines, no line starting with '.'."""
    head = (f"From: <{SENDER}>\r\nTo: <{to}>\r\nSubject: bench {seq}\r\n"
            f"Message-ID: <{time.time_ns()}.{seq}@client.{DOMAIN}>\r\n\r\n").encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab\r\n"
    body = line * (size // len(line)) + line[:max(0, size % len(line) - 2)] + b"\r\n"
    return head + body


# --------------------------------------------------------------------------------------------
# A tiny blocking SMTP client (latency, 100 MiB message)


class SmtpError(Exception):
    pass


class Client:
    def __init__(self, port: int, timeout: float = 60.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""

    def reply(self) -> tuple[int, list[bytes]]:
        lines = []
        while True:
            i = self.buf.find(b"\n")
            while i < 0:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise SmtpError("connection closed by server" +
                                    (f" after {lines!r}" if lines else ""))
                self.buf += chunk
                i = self.buf.find(b"\n")
            line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
            lines.append(line.rstrip(b"\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                try:
                    return int(line[:3]), lines
                except ValueError:
                    raise SmtpError(f"bad reply {line!r}")

    def cmd(self, text: str, expect: int) -> list[bytes]:
        self.sock.sendall(text.encode() + b"\r\n")
        code, lines = self.reply()
        if code != expect:
            raise SmtpError(f"{text.split()[0]} -> {b' '.join(lines)!r}")
        return lines

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def full_transaction(port: int, to: str, msg: bytes) -> None:
    c = Client(port, timeout=60)
    try:
        code, lines = c.reply()
        if code != 220:
            raise SmtpError(f"greeting {lines!r}")
        c.cmd("EHLO client.bench.test", 250)
        c.cmd(f"MAIL FROM:<{SENDER}>", 250)
        c.cmd(f"RCPT TO:<{to}>", 250)
        c.cmd("DATA", 354)
        c.sock.sendall(msg + b".\r\n")
        code, lines = c.reply()
        if code != 250:
            raise SmtpError(f"end of DATA -> {lines!r}")
        c.cmd("QUIT", 221)
    finally:
        c.close()


# --------------------------------------------------------------------------------------------
# The servers


class Server:
    name = "?"
    pid: int | None = None
    port: int = 0
    stores = True

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def start(self) -> None: ...
    def stop(self) -> None: ...

    def alive(self) -> bool:
        return True

    def maildir(self, local: str) -> Path | None:
        return None

    def queue_empty(self) -> bool:
        return True

    def cpu_seconds(self) -> float | None:
        """CPU time used so far, where the server is one process (None for Postfix)."""
        return None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        return ""

    def memory_kb(self) -> int:
        """Resident memory as compared for idle connections."""
        return proc_status(self.pid, "VmRSS") or 0

    mem_kind = "RSS"


class ProcServer(Server):
    """A server that is one child process of ours."""
    proc: subprocess.Popen | None = None
    logfile: Path

    def _spawn(self, cmd: list[str], cwd: Path | None = None) -> None:
        self.logfile = self.root / f"{self.name}.log"
        self._log_f = open(self.logfile, "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_f,
                                     stderr=self._log_f, cwd=cwd or self.root)
        self.pid = self.proc.pid
        if not wait_smtp(self.port, 20, self.alive):
            rc = self.proc.poll()
            self.stop()
            raise RuntimeError(f"{self.name} did not answer on port {self.port} "
                               f"(exit {rc}): {tail(self.logfile, 5)}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.pid) if self.alive() else None

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

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
            self.proc = None
            self._log_f.close()

    def log_tail(self) -> str:
        return tail(self.logfile, 6)


class Taube(ProcServer):
    def __init__(self, root: Path, binary: str, mode: str = "maildir"):
        super().__init__(root)
        self.binary = binary
        self.mode = mode
        self.name = "taube" if mode == "maildir" else f"taube-{mode}"
        self.stores = mode == "maildir"
        self.mail_root = root / "mail"
        self.log_offset = 0

    def start(self) -> None:
        self.port = free_port()
        cfg = f'''hostname = "{DOMAIN}"
log_level = "warn"

[[listener]]
address = "{HOST}"
port = {self.port}

[delivery]
mail_root = "{self.mail_root}"
domains = ["{DOMAIN}"]
mode = "{self.mode}"

[limits]
max_connections = 20000
max_connections_per_ip = 20000
max_message_size = 209715200

[server]
worker_threads = 16
'''
        conf = self.root / "taube.toml"
        conf.write_text(cfg)
        self._spawn([self.binary, "serve", "--config", str(conf)])

    def maildir(self, local: str) -> Path | None:
        return self.mail_root / DOMAIN / local if self.stores else None

    def new_log_lines(self) -> list[str]:
        """Log lines (warnings/errors; the config logs at warn) written since the last call."""
        try:
            with open(self.logfile, "rb") as f:
                f.seek(self.log_offset)
                data = f.read()
                self.log_offset = f.tell()
        except OSError:
            return []
        return [l for l in data.decode("utf-8", "replace").splitlines() if l.strip()]


class Aiosmtpd(ProcServer):
    name = "aiosmtpd"

    def start(self) -> None:
        self.port = free_port()
        self._spawn([SYS_PYTHON, str(BENCH_DIR / "aiosmtpd_maildir.py"), "--port", str(self.port),
                     "--root", str(self.root / "maildirs")])

    def maildir(self, local: str) -> Path | None:
        return self.root / "maildirs" / local


class Sink(ProcServer):
    name = "smtp-sink"
    stores = False

    def start(self) -> None:
        self.port = free_port()
        # -u nobody: required when run as root. -m: connection cap well above 100 sessions.
        self._spawn([SMTP_SINK, "-u", "nobody", "-m", "2000", f"{HOST}:{self.port}", "4096"])


class Postfix(Server):
    """A private Postfix: own config, queue and data directories under the temp dir; smtpd on a
    free loopback port; every @bench.test recipient delivered by virtual(8) into the one Maildir
    <root>/vmail/maildir/ (catch-all map static:maildir/; virtual(8) refuses regexp
    substitutions, so runs are told apart by counting, not by directory)."""

    name = "postfix"
    mem_kind = "PSS"
    SERVICES = {"pickup", "cleanup", "qmgr", "rewrite", "bounce", "defer", "trace", "smtp",
                "showq", "flush", "postlog", "relay", "error", "retry", "anvil", "scache",
                "verify", "proxymap", "proxywrite", "discard", "virtual"}

    def __init__(self, root: Path, process_limit: int):
        super().__init__(root)
        os.chmod(self.root, 0o755)
        self.conf = root / "conf"
        self.queue = root / "queue"
        self.vmail = root / "vmail"
        self.process_limit = process_limit
        self.started = False
        self.port = free_port()
        self._configure()

    def _configure(self) -> None:
        self.conf.mkdir(exist_ok=True)
        self.queue.mkdir(mode=0o755, exist_ok=True)
        data = self.root / "data"
        data.mkdir(mode=0o700, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(data, pf.pw_uid, pf.pw_gid)
        nobody = pwd.getpwnam("nobody")
        self.vmail.mkdir(mode=0o755, exist_ok=True)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        shlib = subprocess.run(["postconf", "-c", "/usr/share/postfix", "-dh", "shlib_directory"],
                               capture_output=True, text=True).stdout.strip()
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(data),
            "shlib_directory": shlib if shlib.startswith("/") else "/usr/lib/postfix",
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": str(self.root / "maillog"),
            "maillog_file_prefixes": str(self.root),
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "postfix.bench.test",
            "mydomain": "bench.test",
            "myorigin": "postfix.bench.test",
            "mydestination": "",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
            "disable_dns_lookups": "yes",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "biff": "no",
            # Delivery: virtual(8) into one Maildir per local part, catch-all map.
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(self.vmail),
            "virtual_mailbox_maps": "static:maildir/",  # catch-all; trailing / = Maildir
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_mailbox_limit": "0",
            "message_size_limit": str(200 * MIB),
            # Not throttled.
            "default_process_limit": str(self.process_limit),
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "smtpd_client_event_limit_exceptions": "",
            "in_flow_delay": "0",
            "smtpd_peername_lookup": "no",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
        }
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        out = [f"{HOST}:{self.port} inet n - n - - smtpd\n"]
        keep = False
        for line in Path("/etc/postfix/master.cf").read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0] in " \t":
                if keep:
                    out.append(line + "\n")
                continue
            f = line.split()
            keep = len(f) >= 8 and f[1] != "inet" and f[0] in self.SERVICES
            if keep:
                f[4] = "n"  # no chroot: our queue directory holds no chroot jail
                out.append(" ".join(f) + "\n")
        (self.conf / "master.cf").write_text("".join(out))

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        p = subprocess.run(["postfix", "-c", str(self.conf), *args], capture_output=True,
                           text=True, timeout=120)
        if check and p.returncode != 0:
            raise RuntimeError(f"postfix {' '.join(args)} failed ({p.returncode}): "
                               f"{(p.stdout + p.stderr).strip()} {tail(self.root / 'maillog', 5)}")
        return p

    def master_pid(self) -> int | None:
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self) -> None:
        self._postfix("check")
        self._postfix("start")
        self.started = True
        if not wait_smtp(self.port, 30):
            raise RuntimeError(f"postfix smtpd not answering on {self.port}: "
                               f"{tail(self.root / 'maillog', 5)}")
        self.pid = self.master_pid()

    def stop(self) -> None:
        if not self.started:
            return
        pid = self.master_pid()
        tree = process_tree(pid) if pid else []
        self._postfix("stop", check=False)
        self.started = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not any(os.path.exists(f"/proc/{p}") for p in tree):
                break
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.master_pid() is not None

    def maildir(self, local: str) -> Path | None:
        return self.vmail / "maildir"

    def queue_empty(self) -> bool:
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(self.queue / q):
                if files:
                    return False
        return True

    def memory_kb(self) -> int:
        pid = self.master_pid()
        return sum(pss_kb(p) for p in process_tree(pid)) if pid else 0

    def log_tail(self) -> str:
        return tail(self.root / "maillog", 6)


# --------------------------------------------------------------------------------------------
# Measurements


class Bench:
    def __init__(self, args, profile: dict, tmp: Path):
        self.args = args
        self.p = profile
        self.tmp = tmp
        self.rid = 0
        # results[(section, key, server)] = list of per-rep dicts
        self.results: dict[tuple, list[dict]] = {}
        self.unavailable: dict[str, str] = {}
        self.anomalies: list[str] = []
        self.failures = 0
        self.lost_total: dict[str, int] = {}
        self.wait_left = float(os.environ.get("BENCH_WAIT_TOTAL", "900"))
        self.loaded_reps = 0
        self.retired = 0

    def wait_quiet(self) -> float:
        """Before a measured repetition: wait (at most 60 s each, BENCH_WAIT_TOTAL s over the
        whole run) until other processes leave the CPUs mostly idle. Returns the CPU busy
        fraction seen last; the repetition is marked as run under load when it is > 0.25."""
        if self.args.smoke:
            return 0.0
        settle_disk()
        busy = cpu_busy(0.5)
        t0 = time.monotonic()
        while busy > 0.25 and self.wait_left > 0 and time.monotonic() - t0 < 60:
            busy = cpu_busy(1.0)
            self.wait_left -= 1.0
        if busy > 0.25:
            self.loaded_reps += 1
        return busy

    def retire(self, md: Path | None) -> None:
        """Set a verified Maildir aside instead of deleting it now. Deleting thousands of files
        between runs made the *next* run slower for whichever server came next: ext4 without a
        journal (this machine's root) skips inodes freed in the last 60-360 s when it allocates
        new ones, scanning past each of them (perf: 25 % of Taube's CPU in find_inode_bit /
        recently_deleted after a cleanup). The harness's cleanup must not be charged to the
        servers, so retired Maildirs are renamed (no inode freed) and deleted after the whole
        run -- unless the disk runs short, then at once."""
        if md is None or not md.exists():
            return
        trash = self.tmp / "retired"
        trash.mkdir(exist_ok=True)
        st = os.statvfs(self.tmp)
        if st.f_bavail * st.f_frsize < 2 * 1024 * MIB:
            shutil.rmtree(md, ignore_errors=True)
            return
        self.retired += 1
        try:
            md.rename(trash / f"{self.retired}-{md.name}")
        except OSError:
            shutil.rmtree(md, ignore_errors=True)

    def next_rcpt(self) -> str:
        self.rid += 1
        return f"r{self.rid}"

    def add(self, section: str, key, server: str, rec: dict) -> None:
        self.results.setdefault((section, key, server), []).append(rec)

    def anomaly(self, text: str) -> None:
        log("ANOMALY: " + text)
        self.anomalies.append(text)

    def check_server(self, srv: Server, where: str) -> None:
        """After each run: record Taube's new warning/error lines; restart a dead server."""
        if isinstance(srv, Taube):
            lines = srv.new_log_lines()
            if lines:
                shown = "; ".join(lines[:3]) + (f" (+{len(lines) - 3} more)" if len(lines) > 3 else "")
                self.anomaly(f"{srv.name} {where}: {len(lines)} log line(s) at warn+: {shown}")
        if not srv.alive():
            status = srv.exit_status() if isinstance(srv, ProcServer) else "master gone"
            last = "" if isinstance(srv, Taube) else f"; last log: {srv.log_tail()!r}"
            self.anomaly(f"{srv.name} {where}: server died ({status}){last}; restarted")
            self.failures += 1
            srv.stop()
            srv.start()

    # -- throughput ----------------------------------------------------------------------------

    def throughput(self, srv: Server, sessions: int, size: int, count: int) -> dict:
        local = self.next_rcpt()
        to = f"{local}@{DOMAIN}"
        cmd = [SMTP_SOURCE, "-c", "-C", "5", "-s", str(sessions), "-m", str(count),
               "-l", str(size), "-M", f"client.{DOMAIN}", "-f", SENDER, "-t", to,
               f"{HOST}:{srv.port}"]
        timeout = 60 + count * size / (2 * MIB) + count / 20
        md = srv.maildir(local)
        n0 = count_files(md / "new") if md is not None else 0
        cpu0 = srv.cpu_seconds()
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=timeout)
            rc, out, err = p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = "timeout", e.stdout or b"", (e.stderr or b"") + b" (timed out)"
        t1 = time.monotonic()
        nums = re.findall(rb"\d+", out)
        counted = int(nums[-1]) if nums else 0
        ok = rc == 0
        # smtp-source's counter goes up when it has sent the final "." (before the reply), so
        # after an aborted run up to `sessions` counted messages may never have been
        # acknowledged: count only the rest as surely accepted.
        accepted = count if ok else max(0, counted - sessions)
        cpu1 = srv.cpu_seconds()
        rec = dict(ok=ok, accepted=accepted, count=count, acc_time=t1 - t0,
                   acc_rate=(count / (t1 - t0)) if ok else None,
                   # The server's CPU per message while smtp-source ran (for a storing server
                   # its delivery work after that is not included).
                   cpu_us=((cpu1 - cpu0) * 1e6 / count) if ok and cpu0 is not None
                   and cpu1 is not None else None,
                   counted=counted,
                   error="" if ok else f"smtp-source {rc}: " + last_line(err))
        if not ok:
            self.failures += 1
        if md is not None:
            new = md / "new"
            t_done, n = None, 0
            last_change, last_n = time.monotonic(), -1
            deadline = time.monotonic() + 60 + count / 50
            while True:
                n = count_files(new) - n0
                now = time.monotonic()
                if n != last_n:
                    last_n, last_change = n, now
                if n >= accepted and t_done is None:
                    t_done = t1 if now - t1 < 0.05 else now
                if n >= accepted and srv.queue_empty():
                    break
                if now - last_change > 10 and srv.queue_empty():
                    break
                if now > deadline or not srv.alive():
                    break
                time.sleep(0.02)
            rec["delivered"] = n
            rec["lost"] = max(0, accepted - n)
            if t_done is not None and ok:
                rec["del_rate"] = count / (t_done - t0)
            else:
                rec["del_rate"] = None
            if rec["lost"]:
                self.failures += 1
                self.lost_total[srv.name] = self.lost_total.get(srv.name, 0) + rec["lost"]
                self.anomaly(f"{srv.name} {sessions}x{size // KIB}KiB: {rec['lost']} message(s) "
                             f"acknowledged but not in the Maildir ({n}/{accepted})")
            if not ok and n < counted:
                rec["unsure"] = counted - max(n, accepted)
            if rec["lost"] == 0 and srv.queue_empty():
                self.retire(md)
        if not ok:
            stored = f", {rec['delivered']} stored" if "delivered" in rec else ""
            self.anomaly(f"{srv.name} {sessions}x{size // KIB}KiB x{count}: {rec['error']}; "
                         f"smtp-source had sent {counted} message(s) (at least {accepted} "
                         f"acknowledged){stored}")
        return rec

    # -- latency -------------------------------------------------------------------------------

    def latency(self, srv: Server, sessions: int, total: int) -> dict:
        local = self.next_rcpt()
        to = f"{local}@{DOMAIN}"
        msg = message_bytes(KIB, to)
        md = srv.maildir(local)
        n0 = count_files(md / "new") if md is not None else 0
        times: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        issued = [0]

        def worker():
            while True:
                with lock:
                    if issued[0] >= total or len(errors) > 20:
                        return
                    issued[0] += 1
                t = time.perf_counter()
                try:
                    full_transaction(srv.port, to, msg)
                    d = time.perf_counter() - t
                    with lock:
                        times.append(d)
                except (OSError, SmtpError) as e:
                    with lock:
                        errors.append(f"{type(e).__name__}: {e}")

        th = [threading.Thread(target=worker) for _ in range(sessions)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        rec = dict(ok=not errors, n=len(times), errors=len(errors))
        if times:
            times.sort()
            rec["p50"] = times[len(times) // 2] * 1000
            rec["p99"] = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
            rec["max"] = times[-1] * 1000
            # Transactions over 100 ms: a stall of the shared machine (disk, steal) hits the
            # ~10 transactions in flight at once and alone can move p99; count them apart.
            rec["slow"] = sum(1 for x in times if x > 0.1)
        if errors:
            self.failures += 1
            self.anomaly(f"{srv.name} latency: {len(errors)} failed transaction(s), "
                         f"first: {errors[0]}")
        if md is not None:
            deadline = time.monotonic() + 60
            while count_files(md / "new") - n0 < len(times) and time.monotonic() < deadline \
                    and srv.alive():
                time.sleep(0.05)
            n = count_files(md / "new") - n0
            if n < len(times):
                lost = len(times) - n
                rec["lost"] = lost
                self.failures += 1
                self.lost_total[srv.name] = self.lost_total.get(srv.name, 0) + lost
                self.anomaly(f"{srv.name} latency run: {lost} acknowledged message(s) missing")
            elif srv.queue_empty():
                self.retire(md)
        return rec

    # -- idle connections ----------------------------------------------------------------------

    def idle(self, srv: Server, n: int) -> dict:
        """On a freshly started server: memory before, open n connections that complete EHLO,
        memory after; per-connection figure in KiB."""
        time.sleep(1.0)
        before = srv.memory_kb()

        async def go():
            sem = asyncio.Semaphore(200)
            writers, errors = [], []

            async def read_reply(r):
                while True:
                    line = await r.readline()
                    if not line:
                        raise ConnectionError("closed")
                    if line[3:4] != b"-":
                        return line

            async def one():
                async with sem:
                    try:
                        r, w = await asyncio.wait_for(asyncio.open_connection(HOST, srv.port), 60)
                        g = await asyncio.wait_for(read_reply(r), 60)
                        if not g.startswith(b"220"):
                            raise ConnectionError(f"greeting {g!r}")
                        w.write(b"EHLO idle.bench.test\r\n")
                        await w.drain()
                        e = await asyncio.wait_for(read_reply(r), 60)
                        if not e.startswith(b"250"):
                            raise ConnectionError(f"EHLO {e!r}")
                        writers.append(w)
                    except Exception as ex:  # noqa: BLE001
                        errors.append(f"{type(ex).__name__}: {ex}")

            t0 = time.monotonic()
            await asyncio.gather(*(one() for _ in range(n)))
            t_open = time.monotonic() - t0
            await asyncio.sleep(2.0)
            after = srv.memory_kb() if srv.alive() else None
            for w in writers:
                w.close()
            await asyncio.sleep(0.2)
            return len(writers), errors, after, t_open

        opened, errors, after, t_open = asyncio.run(go())
        rec = dict(ok=not errors and opened == n and after is not None, opened=opened,
                   before_kb=before, after_kb=after, open_s=t_open,
                   per_conn_kib=(after - before) / opened if opened and after else None)
        if errors:
            self.failures += 1
            self.anomaly(f"{srv.name} idle {n}: {len(errors)} connection(s) failed, "
                         f"first: {errors[0]}")
        return rec

    # -- one 100 MiB message -------------------------------------------------------------------

    def big(self, srv: Taube, size: int) -> dict:
        time.sleep(0.5)
        pid = srv.pid
        before = proc_status(pid, "VmRSS") or 0
        hwm0 = proc_status(pid, "VmHWM") or 0
        peak = [before]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                v = proc_status(pid, "VmRSS")
                if v:
                    peak[0] = max(peak[0], v)
                time.sleep(0.005)

        local = self.next_rcpt()
        to = f"{local}@{DOMAIN}"
        th = threading.Thread(target=sampler)
        th.start()
        err = None
        t0 = time.monotonic()
        try:
            c = Client(srv.port, timeout=300)
            try:
                c.reply()
                ehlo = c.cmd("EHLO client.bench.test", 250)
                size_ext = any(l[4:].upper().startswith(b"SIZE") for l in ehlo)
                c.cmd(f"MAIL FROM:<{SENDER}>" + (f" SIZE={size + 200}" if size_ext else ""), 250)
                c.cmd(f"RCPT TO:<{to}>", 250)
                c.cmd("DATA", 354)
                chunk = message_bytes(MIB, to)
                head_end = chunk.index(b"\r\n\r\n") + 4
                c.sock.sendall(chunk)
                body_chunk = chunk[head_end:]
                sent = len(chunk) - head_end
                while sent < size:
                    c.sock.sendall(body_chunk)
                    sent += len(body_chunk)
                c.sock.sendall(b".\r\n")
                code, lines = c.reply()
                if code != 250:
                    raise SmtpError(f"end of DATA -> {lines!r}")
                c.cmd("QUIT", 221)
            finally:
                c.close()
        except (OSError, SmtpError) as e:
            err = f"{type(e).__name__}: {e}"
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
        stop.set()
        th.join()
        hwm1 = proc_status(pid, "VmHWM") or peak[0]
        peak_kb = max(hwm1, peak[0])
        rec = dict(ok=err is None, before_kb=before, hwm_before_kb=hwm0, peak_kb=peak_kb,
                   growth_mib=(peak_kb - before) / 1024, seconds=elapsed)
        if err:
            self.failures += 1
            self.anomaly(f"{srv.name} {size // MIB} MiB message: {err}")
        else:
            files = list((srv.maildir(local) / "new").glob("*"))
            # Stored with LF or CRLF line ends: 78-byte CRLF lines may shrink by 1/78.
            if len(files) != 1 or files[0].stat().st_size < size * 0.98:
                self.failures += 1
                self.lost_total[srv.name] = self.lost_total.get(srv.name, 0) + 1
                self.anomaly(f"{srv.name} {size // MIB} MiB message acknowledged but not stored "
                             f"whole: {[f.stat().st_size for f in files]}")
                rec["ok"] = False
            self.retire(srv.maildir(local))
        return rec

    # -- driving -------------------------------------------------------------------------------

    def make(self, kind: str) -> Server:
        root = self.tmp / f"{kind}-{self.next_rcpt()}"
        if kind == "taube":
            return Taube(root, self.args.taube, "maildir")
        if kind == "taube-discard":
            return Taube(root, self.args.taube, "discard")
        if kind == "postfix":
            return Postfix(root, max(250, self.p["idle_postfix"] + 100))
        if kind == "aiosmtpd":
            return Aiosmtpd(root)
        if kind == "smtp-sink":
            return Sink(root)
        raise ValueError(kind)

    def preflight(self, kind: str) -> str | None:
        """Reason a comparison server cannot run here, or None."""
        if kind == "postfix":
            for prog in ("postfix", "postconf"):
                if not shutil.which(prog):
                    return f"{prog} not installed"
            try:
                pwd.getpwnam("postfix")
                grp.getgrnam("postdrop")
            except KeyError:
                return "postfix user/postdrop group missing"
            if os.geteuid() != 0:
                return "needs root"
        if kind == "aiosmtpd":
            p = subprocess.run([SYS_PYTHON, "-c", "import aiosmtpd"], capture_output=True)
            if p.returncode != 0:
                return f"python3-aiosmtpd not importable by {SYS_PYTHON}"
        if kind == "smtp-sink" and not os.access(SMTP_SINK, os.X_OK):
            return "smtp-sink not installed"
        if kind == "smtp-sink" and os.geteuid() != 0:
            pass  # -u nobody is only needed as root; it fails otherwise, harmless
        return None

    def started(self, kind: str) -> Server | None:
        if kind in self.unavailable:
            return None
        reason = self.preflight(kind)
        srv = None
        if reason is None:
            try:
                srv = self.make(kind)
                srv.start()
                if srv.stores:
                    # Verify delivery end to end with one message before measuring.
                    local = self.next_rcpt()
                    full_transaction(srv.port, f"{local}@{DOMAIN}",
                                     message_bytes(KIB, f"{local}@{DOMAIN}"))
                    deadline = time.monotonic() + 30
                    while count_files(srv.maildir(local) / "new") < 1:
                        if time.monotonic() > deadline:
                            raise RuntimeError(f"test message not delivered in 30 s: "
                                               f"{srv.log_tail()!r}")
                        time.sleep(0.05)
                    self.retire(srv.maildir(local))
                if isinstance(srv, Taube):
                    srv.new_log_lines()
                return srv
            except Exception as e:  # noqa: BLE001
                reason = f"{type(e).__name__}: {e}"
                if srv is not None:
                    try:
                        srv.stop()
                    except Exception:  # noqa: BLE001
                        pass
        if kind.startswith("taube"):
            raise RuntimeError(f"{kind} could not be started: {reason}")
        self.anomaly(f"{kind} unavailable: {' '.join(reason.split())[:600]}")
        short = reason.splitlines()[0]
        self.unavailable[kind] = short if len(short) <= 70 else short[:67] + "..."
        return None

    def run(self) -> None:
        reps = self.p["reps"]
        # The servers compared with each other run side by side, and every repetition of a
        # point runs each of them in turn (the order rotating), so that the shared machine's
        # slow and fast minutes fall on all of them alike: the ratios are what count.
        for group in (("taube", "postfix", "aiosmtpd"), ("taube-discard", "smtp-sink")):
            log(f"== throughput and latency: {', '.join(group)}")
            servers = []
            try:
                for kind in group:
                    srv = self.started(kind)
                    if srv is not None:
                        servers.append((kind, srv))

                def rotated(r: int):
                    k = r % len(servers)
                    return servers[k:] + servers[:k]

                for sessions, size, count in self.p["points"]:
                    for r in range(reps):
                        for kind, srv in rotated(r):
                            busy = self.wait_quiet()
                            rec = self.throughput(srv, sessions, size, count)
                            rec["busy"] = busy
                            self.add("tput", (sessions, size), kind, rec)
                            log(f"{kind} {sessions} sess {size // KIB} KiB x{count} rep {r + 1}: "
                                f"acc {fmt(rec.get('acc_rate'))}/s del "
                                f"{fmt(rec.get('del_rate'))}/s lost {rec.get('lost', '-')}")
                            self.check_server(srv, f"after {sessions}x{size // KIB}KiB rep {r + 1}")
                for r in range(reps):
                    for kind, srv in rotated(r):
                        busy = self.wait_quiet()
                        rec = self.latency(srv, LAT_SESSIONS, self.p["lat_tx"])
                        rec["busy"] = busy
                        self.add("lat", LAT_SESSIONS, kind, rec)
                        log(f"{kind} latency rep {r + 1}: p50 {fmt(rec.get('p50'), 2)} ms "
                            f"p99 {fmt(rec.get('p99'), 2)} ms max {fmt(rec.get('max'), 1)} ms, "
                            f"{rec.get('slow', 0)} over 100 ms")
                        self.check_server(srv, f"after latency rep {r + 1}")
            finally:
                for _, srv in servers:
                    srv.stop()

        # Idle connections, each repetition on a freshly started server.
        for kind, counts in (("taube", self.p["idle"]), ("postfix", [self.p["idle_postfix"]]),
                             ("aiosmtpd", self.p["idle"])):
            for n in counts:
                for r in range(reps):
                    log(f"== {kind}: {n} idle connections, rep {r + 1}")
                    srv = self.started(kind)
                    if srv is None:
                        break
                    try:
                        busy = self.wait_quiet()
                        rec = self.idle(srv, n)
                        rec["busy"] = busy
                        self.add("idle", n, kind, rec)
                        log(f"{kind} idle {n}: {fmt(rec['per_conn_kib'], 2)} KiB/conn "
                            f"({srv.mem_kind} {rec['before_kb']} -> {rec['after_kb']} kB)")
                        self.check_server(srv, f"after {n} idle connections")
                    finally:
                        srv.stop()

        # One big message, each repetition on a freshly started Taube.
        for r in range(reps):
            log(f"== taube: one {self.p['big'] // MIB} MiB message, rep {r + 1}")
            srv = self.started("taube")
            try:
                busy = self.wait_quiet()
                rec = self.big(srv, self.p["big"])
                rec["busy"] = busy
                self.add("big", self.p["big"], "taube", rec)
                log(f"taube big: peak {rec['peak_kb'] / 1024:.1f} MiB, growth "
                    f"{rec['growth_mib']:.1f} MiB, {rec['seconds']:.2f} s")
                self.check_server(srv, "after the big message")
            finally:
                srv.stop()


# --------------------------------------------------------------------------------------------
# Reporting


def fmt(v, digits: int = 0) -> str:
    if v is None:
        return "—"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def med(recs: list[dict] | None, field: str):
    vals = [r[field] for r in recs or [] if r.get(field) is not None]
    return statistics.median(vals) if vals else None


def cell(b: Bench, kind: str, section: str, key, field: str, digits: int = 0) -> str:
    if kind in b.unavailable and (section, key, kind) not in b.results:
        return f"n/a ({b.unavailable[kind]})"
    recs = b.results.get((section, key, kind))
    if not recs:
        return "—"
    v = med(recs, field)
    bad = sum(1 for r in recs if not r.get("ok", True) or r.get("lost"))
    s = fmt(v, digits) if v is not None else "FAILED"
    if bad and v is not None:
        s += f" ({bad}/{len(recs)} runs failed)"
    elif bad:
        s += f" ({bad}/{len(recs)} runs)"
    return s


def ratio(a, b, digits: int = 2) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{digits}f}×"


def report(b: Bench) -> tuple[str, list[str]]:
    """Markdown tables and the list of missed targets."""
    out, missed = [], []
    sz = lambda s: f"{s // KIB} KiB"  # noqa: E731

    out.append("### Storing servers (every message fsynced into a Maildir), messages/second\n")
    out.append("| measurement | Taube | Postfix | aiosmtpd | Taube/Postfix | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    for sessions, size, count in b.p["points"]:
        key = (sessions, size)
        for field, what in (("acc_rate", "accepted/s"), ("del_rate", "delivered/s")):
            t = med(b.results.get(("tput", key, "taube")), field)
            pf = med(b.results.get(("tput", key, "postfix")), field)
            target = ""
            if size == KIB and sessions in RATIO_TARGETS and field == "del_rate":
                goal = RATIO_TARGETS[sessions]
                if t is None or pf is None:
                    verdict = "?"
                else:
                    verdict = "met" if t / pf >= goal else "MISSED"
                if verdict != "met":
                    why = ratio(t, pf) if t is not None and pf is not None else (
                        "unknown: no Taube figure (every run failed)" if t is None
                        else "unknown: no Postfix figure")
                    missed.append(f"{sz(size)} × {sessions} session(s): Taube/Postfix delivered "
                                  f"{why} (target ≥{goal:g}×)")
                target = f"≥{goal:g}× — {verdict}"
            out.append(f"| {sz(size)}, {sessions} session(s), {count:,} msgs — {what} | "
                       f"{cell(b, 'taube', 'tput', key, field)} | "
                       f"{cell(b, 'postfix', 'tput', key, field)} | "
                       f"{cell(b, 'aiosmtpd', 'tput', key, field)} | {ratio(t, pf)} | {target} |")
    lost_cells = []
    for kind in ("taube", "postfix", "aiosmtpd"):
        if kind in b.unavailable and not any(k[2] == kind for k in b.results):
            lost_cells.append("n/a")
        else:
            lost_cells.append(str(b.lost_total.get(kind, 0)))
    out.append(f"| lost messages (acknowledged, not in Maildir), all runs | "
               f"{' | '.join(lost_cells)} | | must be 0 |")

    out.append("\n### Protocol only (Taube with `mode = \"discard\"` vs smtp-sink), "
               "accepted messages/second\n")
    out.append("| measurement | Taube (discard) | smtp-sink | Taube/smtp-sink | target | "
               "server CPU µs/msg: Taube (discard) | smtp-sink |")
    out.append("|---|---:|---:|---:|---|---:|---:|")
    for sessions, size, count in b.p["points"]:
        key = (sessions, size)
        t = med(b.results.get(("tput", key, "taube-discard")), "acc_rate")
        s = med(b.results.get(("tput", key, "smtp-sink")), "acc_rate")
        target = ""
        if size == KIB and sessions in DISCARD_TARGETS:
            goal = DISCARD_TARGETS[sessions]
            verdict = "?" if t is None or s is None else ("met" if t / s >= goal else "MISSED")
            if verdict != "met":
                missed.append(f"{sz(size)} × {sessions} session(s), protocol only: "
                              f"Taube/smtp-sink {ratio(t, s)} (target ≥{goal:g}×)")
            target = f"≥{goal:g}× — {verdict}"
        out.append(f"| {sz(size)}, {sessions} session(s), {count:,} msgs — accepted/s | "
                   f"{cell(b, 'taube-discard', 'tput', key, 'acc_rate')} | "
                   f"{cell(b, 'smtp-sink', 'tput', key, 'acc_rate')} | {ratio(t, s)} | {target} | "
                   f"{cell(b, 'taube-discard', 'tput', key, 'cpu_us')} | "
                   f"{cell(b, 'smtp-sink', 'tput', key, 'cpu_us')} |")

    out.append(f"\n### Latency of a full transaction (connect … QUIT, 1 KiB), "
               f"{LAT_SESSIONS} sessions, ms\n")
    kinds = ("taube", "postfix", "aiosmtpd", "taube-discard", "smtp-sink")
    out.append("| percentile | Taube | Postfix | aiosmtpd | Taube (discard) | smtp-sink "
               "| Taube/Postfix |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for field in ("p50", "p99"):
        t = med(b.results.get(("lat", LAT_SESSIONS, "taube")), field)
        pf = med(b.results.get(("lat", LAT_SESSIONS, "postfix")), field)
        cells = " | ".join(cell(b, k, "lat", LAT_SESSIONS, field, 2) for k in kinds)
        out.append(f"| {field} ({b.p['lat_tx']:,} transactions) | {cells} | {ratio(t, pf)} |")

    out.append("\n### Memory\n")
    out.append("| measurement | Taube (RSS) | Postfix (PSS, all processes) | aiosmtpd (RSS) "
               "| Taube/Postfix | target |")
    out.append("|---|---:|---:|---:|---:|---|")
    for n in b.p["idle"]:
        t = med(b.results.get(("idle", n, "taube")), "per_conn_kib")
        pf = med(b.results.get(("idle", n, "postfix")), "per_conn_kib")
        pf_cell = (cell(b, "postfix", "idle", n, "per_conn_kib", 1)
                   if ("idle", n, "postfix") in b.results or "postfix" in b.unavailable
                   else "not measured (process per connection)")
        target = ""
        if n == max(b.p["idle"]):
            if t is not None and t <= IDLE_TARGET_KIB:
                target = f"≤{IDLE_TARGET_KIB:g} KiB — met"
            else:
                target = f"≤{IDLE_TARGET_KIB:g} KiB — MISSED"
                missed.append(f"idle memory at {n:,} connections: {fmt(t, 1)} KiB/connection "
                              f"(target ≤{IDLE_TARGET_KIB:g})")
        out.append(f"| KiB per idle connection (after EHLO), {n:,} connections | "
                   f"{cell(b, 'taube', 'idle', n, 'per_conn_kib', 1)} | {pf_cell} | "
                   f"{cell(b, 'aiosmtpd', 'idle', n, 'per_conn_kib', 1)} | {ratio(t, pf)} | "
                   f"{target} |")
    if b.p["idle_postfix"] not in b.p["idle"]:
        n = b.p["idle_postfix"]
        out.append(f"| KiB per idle connection (after EHLO), {n:,} connections | — | "
                   f"{cell(b, 'postfix', 'idle', n, 'per_conn_kib', 1)} | — | — | |")
    big = b.p["big"]
    g = med([r for r in b.results.get(("big", big, "taube")) or [] if r.get("ok")], "growth_mib")
    target = ""
    if big == 100 * MIB:
        if g is not None and g <= BIG_GROWTH_TARGET_MIB:
            target = f"growth ≤{BIG_GROWTH_TARGET_MIB:g} MiB — met"
        else:
            target = f"growth ≤{BIG_GROWTH_TARGET_MIB:g} MiB — MISSED"
            missed.append(f"{big // MIB} MiB message: peak RSS growth "
                          + (f"{fmt(g, 1)} MiB" if g is not None else
                             "unknown (every run failed)")
                          + f" (target ≤{BIG_GROWTH_TARGET_MIB:g})")
    recs = b.results.get(("big", big, "taube"))
    good = [r for r in recs or [] if r.get("ok")]
    peak = med(good, "peak_kb")
    base = med(good, "before_kb")
    bad = sum(1 for r in recs or [] if not r.get("ok"))
    tcell = (f"peak {fmt(peak / 1024, 1)} MiB (idle {fmt(base / 1024, 1)} MiB, "
             f"growth {fmt(g, 1)} MiB)" if peak else "FAILED")
    if bad:
        tcell += f" ({bad}/{len(recs)} runs failed)"
    out.append(f"| peak RSS receiving one {big // MIB} MiB message | {tcell} | — | — | — | "
               f"{target} |")
    return "\n".join(out), missed


def raw_runs(b: Bench) -> str:
    out = ["| section | point | server | per-run values |", "|---|---|---|---|"]
    for (section, key, kind), recs in b.results.items():
        vals = []
        for r in recs:
            if section == "tput":
                v = f"acc {fmt(r.get('acc_rate'))}/s"
                if "delivered" in r:
                    v += f", del {fmt(r.get('del_rate'))}/s ({r['delivered']}/{r['accepted']})"
                if r.get("cpu_us") is not None:
                    v += f", cpu {fmt(r['cpu_us'])} µs/msg"
                if not r["ok"]:
                    v += f", FAILED after {r['accepted']} accepted"
            elif section == "lat":
                v = f"p50 {fmt(r.get('p50'), 2)} / p99 {fmt(r.get('p99'), 2)} / max " \
                    f"{fmt(r.get('max'), 1)} ms, {r.get('slow', 0)} over 100 ms, {r['n']} ok, " \
                    f"{r['errors']} err"
            elif section == "idle":
                v = f"{fmt(r.get('per_conn_kib'), 2)} KiB/conn ({r['before_kb']}→{r['after_kb']} " \
                    f"kB, {r['opened']} open in {r['open_s']:.1f} s)"
            else:
                v = f"{r['before_kb']}→{r['peak_kb']} kB in {r['seconds']:.2f} s" + \
                    ("" if r["ok"] else " FAILED")
            if r.get("busy", 0) > 0.25:
                v += f" [CPUs {r['busy']:.0%} busy by others before this run]"
            vals.append(v)
        if section == "tput":
            point = f"{key[0]} sess × {key[1] // KIB} KiB"
        elif section == "big":
            point = f"{key // MIB} MiB"
        else:
            point = str(key)
        out.append(f"| {section} | {point} | {kind} | {'; '.join(vals)} |")
    return "\n".join(out)


def dirty_kb() -> int:
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(("Dirty:", "Writeback:")):
                total += int(line.split()[1])
    return total


def settle_disk(timeout: float = 20.0) -> None:
    """Write back what earlier runs left dirty before the next measured run starts. A server
    that defers work to the kernel (Postfix deletes every queue file; the flusher writes that
    metadata back up to 30 s later) would otherwise slow down whichever server runs next: seen
    as Taube's 1-session rate falling from ~1,100 to ~780/s right after a Postfix run. No
    server's own run is shortened: the sync happens between runs, outside every timing."""
    os.sync()
    deadline = time.monotonic() + timeout
    while dirty_kb() > 1024 and time.monotonic() < deadline:
        time.sleep(0.1)


def cpu_busy(seconds: float) -> float:
    """Fraction of all CPUs busy over `seconds` (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


class LoadMonitor(threading.Thread):
    """Samples the 1-minute load average every 5 s during the run."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.samples.append(float(open("/proc/loadavg").read().split()[0]))
            except (OSError, ValueError):
                pass
            self.halt.wait(5)

    def summary(self) -> str:
        if not self.samples:
            return "?"
        return (f"min {min(self.samples):.1f}, median {statistics.median(self.samples):.1f}, "
                f"max {max(self.samples):.1f}")


def machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) // 1024:,} MiB RAM"
    except (OSError, ValueError):
        pass
    return (f"nproc {os.cpu_count()}, kernel {platform.release()} ({platform.machine()}), "
            f"{cpu}, {mem}")


def versions(taube: str) -> str:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    tv = run([taube, "--version"]) or "?"
    pv = run(["postconf", "-c", "/usr/share/postfix", "-dh", "mail_version"]) or "?"
    av = run([SYS_PYTHON, "-c", "import aiosmtpd; print(aiosmtpd.__version__)"]) or "?"
    rev = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "?"
    dirty = run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    return (f"Taube {tv} (git {rev}{', src/ modified' if dirty else ''}), Postfix {pv}, "
            f"aiosmtpd {av} on {run([SYS_PYTHON, '--version'])}")


def main() -> int:
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--smoke", action="store_true")
    g.add_argument("--quick", action="store_true")
    ap.add_argument("--taube", default=os.environ.get("TAUBE_BIN", str(REPO / "build" / "taube")))
    ap.add_argument("--write-results", default=None)
    ap.add_argument("--command", default="bench/run.sh")
    args = ap.parse_args()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    profile = PROFILES[mode]
    if not os.access(args.taube, os.X_OK):
        print(f"bench: taube binary not found: {args.taube} (make build)", file=sys.stderr)
        return 2
    if not os.access(SMTP_SOURCE, os.X_OK):
        print("bench: smtp-source not found (Debian package postfix)", file=sys.stderr)
        return 2
    # Room for 10,000 client sockets here and as many in the server (children inherit this).
    want = 65536
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile < max(profile["idle"]) + 500:  # per process: client and server each hold N
        log(f"warning: open files limit {nofile} is low for {max(profile['idle'])} connections")

    busy_before = cpu_busy(2.0)
    if mode != "smoke" and busy_before > 0.2:
        # Other processes (a build?) hold the CPUs: wait a while for them to finish.
        wait = float(os.environ.get("BENCH_WAIT_IDLE", "300"))
        log(f"CPUs {busy_before:.0%} busy before the run; waiting up to {wait:.0f} s for them "
            f"to quiet down (BENCH_WAIT_IDLE)")
        deadline = time.monotonic() + wait
        try:
            while busy_before > 0.2 and time.monotonic() < deadline:
                busy_before = cpu_busy(5.0)
        except KeyboardInterrupt:
            return 2
    if busy_before > 0.2:
        log(f"warning: the CPUs are {busy_before:.0%} busy before the benchmark starts: other "
            f"processes compete with the servers and the figures will be depressed")
    tmp = Path(tempfile.mkdtemp(prefix="taube-bench-"))
    os.chmod(tmp, 0o755)
    # Each server's directory in a block group of its own (ext4's Orlov allocator spreads the
    # subdirectories of a "top directory"): files created and deleted just before the run (a
    # test suite under /tmp) or by another server must not slow a server's inode allocation.
    # ext4 without a journal -- this machine's root -- skips inodes freed in the last minutes,
    # scanning past each of them; perf showed up to 25 % of a server's CPU there.
    subprocess.run(["chattr", "+T", str(tmp)], capture_output=True)
    # Benchmark a private copy: a rebuild of build/taube during the run must not change it.
    orig = args.taube
    binary = tmp / "taube"
    shutil.copy2(orig, binary)
    digest = hashlib.sha256(binary.read_bytes()).hexdigest()[:12]
    built = datetime.datetime.fromtimestamp(os.stat(orig).st_mtime).astimezone()
    args.taube = str(binary)
    date = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    software = versions(args.taube)
    monitor = LoadMonitor()
    monitor.start()
    started = time.monotonic()
    b = Bench(args, profile, tmp)
    try:
        b.run()
    except KeyboardInterrupt:
        log("interrupted")
        return 2
    except Exception as e:  # noqa: BLE001
        log(f"harness error: {type(e).__name__}: {e}")
        import traceback
        traceback.print_exc()
        return 2
    finally:
        if os.environ.get("BENCH_KEEP_TMP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started
    monitor.halt.set()
    load_line = (f"Load: CPUs {busy_before:.0%} busy (by other processes) just before the run; "
                 f"1-min load average during the run {monitor.summary()} "
                 f"(the benchmark alone keeps it near 2–3 on 2 cores)")
    if mode != "smoke":
        load_line += (f"; each repetition waited for idle CPUs first, {b.loaded_reps} "
                      f"repetition(s) still started with the CPUs >25 % busy (marked in "
                      f"\"Every run\")")
    if busy_before > 0.2 or b.loaded_reps:
        load_line += (" — **the machine was shared with other work during the run: figures are "
                      "depressed and noisier than on an idle machine**")
    tables, missed = report(b)
    reps = profile["reps"]
    header = (f"Date: {date}  \nMachine: {machine()}  \nSoftware: {software}  \n"
              f"Binary: {orig} (sha256 {digest}…, built {built:%Y-%m-%d %H:%M %Z})  \n"
              f"{load_line}  \n"
              f"Command: `{args.command}` (mode {mode}, {reps} repetition(s) per point, "
              f"median shown; took {elapsed:.0f} s)\n")
    anomalies = "\n".join(f"- {a}" for a in b.anomalies) or "- none"
    missed_txt = "\n".join(f"- {m}" for m in missed) or "- none"
    text = (f"{header}\n{tables}\n\n#### Targets Taube misses\n\n{missed_txt}\n\n"
            f"#### Anomalies seen during the run\n\n{anomalies}\n")
    print(text)
    if args.write_results:
        # What profiling found is written by hand (bench/PROFILE.md, dated) and carried into
        # every results file, next to the figures it explains.
        profile_md = Path(__file__).resolve().parent / "PROFILE.md"
        profile_txt = profile_md.read_text() if profile_md.is_file() else ""
        doc = ("# Benchmark results\n\n"
               "Generated by `bench/run.sh` (`make bench`); see bench/README.md for what each "
               "figure means and how it is measured. Figures with \"runs failed\" are medians over "
               "the runs that completed.\n\n" + text +
               (f"\n{profile_txt}" if profile_txt else "") +
               f"\n#### Every run\n\n{raw_runs(b)}\n")
        Path(args.write_results).write_text(doc)
        log(f"wrote {args.write_results}")
    lost = sum(b.lost_total.values())
    if lost or b.failures:
        log(f"FAILED: {lost} lost message(s), {b.failures} failed run(s)")
        return 1
    log("completed; no message lost")
    return 0


if __name__ == "__main__":
    sys.exit(main())

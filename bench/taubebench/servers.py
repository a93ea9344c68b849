"""The servers compared: each started in its own directory under the run's temp dir, on a free
loopback port, through tests/support/taubetest (Child, Taube, PrivatePostfix)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from taubetest import process as tp
from taubetest.config import merge
from taubetest.postfix import PrivatePostfix
from taubetest.procinfo import cpu_seconds, proc_status, process_tree, pss_kb

from .common import BENCH_DIR, DOMAIN, HOST, MIB, SMTP_SINK, SYS_PYTHON, tail


class Server:
    name = "?"
    pid: int | None = None
    port: int = 0
    stores = True
    mem_kind = "RSS"

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

    def log_tail(self) -> str:
        return ""

    def memory_kb(self) -> int:
        """Resident memory as compared for idle connections."""
        return proc_status(self.pid, "VmRSS") or 0


class ProcServer(Server):
    """A server that is one child process of ours, its output in <root>/<name>.log."""
    child: tp.Child | None = None
    logfile: Path

    def _spawn(self, cmd: list[str]) -> None:
        self.logfile = self.root / f"{self.name}.log"
        self.child = tp.Child(cmd, self.root, log_file=self.logfile)
        self.child.spawn()
        self.pid = self.child.pid
        if not tp.wait_smtp(self.port, 20, self.alive):
            status = self.child.exit_status()
            self.stop()
            raise RuntimeError(f"{self.name} did not answer on port {self.port} "
                               f"({status}): {tail(self.logfile, 5)}")

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.pid) if self.alive() else None

    def exit_status(self) -> str:
        return self.child.exit_status() if self.child else "running"

    def stop(self) -> None:
        if self.child is not None:
            self.child.halt(10)
            self.child = None

    def log_tail(self) -> str:
        return tail(self.logfile, 6)


class Taube(ProcServer):
    """build/taube (a private copy) with `mode = "maildir"` or `"discard"`, log level warn."""

    def __init__(self, root: Path, binary: str, mode: str = "maildir",
                 extra: dict | None = None):
        super().__init__(root)
        self.binary = binary
        self.extra = extra  # merged over the config (the relay benchmark's queue and routes)
        self.mode = mode
        self.name = "taube" if mode == "maildir" else f"taube-{mode}"
        self.stores = mode == "maildir"
        self.mail_root = root / "mail"
        self.log_offset = 0

    def start(self) -> None:
        self.port = tp.free_port()
        cfg = {
            "hostname": DOMAIN,
            "log_level": "warn",
            "listener": [{"address": HOST, "port": self.port}],
            "delivery": {"mail_root": str(self.mail_root), "domains": [DOMAIN],
                         "mode": self.mode},
            "limits": {"max_connections": 20000, "max_connections_per_ip": 20000,
                       "max_message_size": 209715200},
            "server": {"worker_threads": 16},
        }
        cfg = merge(cfg, self.extra)
        self.logfile = self.root / f"{self.name}.log"
        # At log level warn there is no "listening on" line: ready once it greets.
        try:
            self.child = tp.Taube(cfg, defaults=False, root=self.root, port=self.port,
                                  ready="smtp", binary=self.binary, log_file=self.logfile,
                                  start_timeout=20)
        except AssertionError as e:
            self.child = None
            raise RuntimeError(f"{self.name} did not answer on port {self.port}: "
                               f"{str(e)[-600:]}") from None
        self.pid = self.child.pid

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
        self.port = tp.free_port()
        self._spawn([SYS_PYTHON, str(BENCH_DIR / "aiosmtpd_maildir.py"), "--port", str(self.port),
                     "--root", str(self.root / "maildirs")])

    def maildir(self, local: str) -> Path | None:
        return self.root / "maildirs" / local


class Sink(ProcServer):
    name = "smtp-sink"
    stores = False

    def start(self) -> None:
        self.port = tp.free_port()
        # -u nobody: required when run as root. -m: connection cap well above 100 sessions.
        self._spawn([SMTP_SINK, "-u", "nobody", "-m", "2000", f"{HOST}:{self.port}", "4096"])


class Postfix(Server):
    """A private Postfix (taubetest.postfix): every @bench.test recipient delivered by
    virtual(8) into the one Maildir <root>/vmail/maildir/ (catch-all map static:maildir/;
    virtual(8) refuses regexp substitutions, so runs are told apart by counting, not by
    directory)."""

    name = "postfix"
    mem_kind = "PSS"

    def __init__(self, root: Path, process_limit: int, extra_main: dict | None = None):
        super().__init__(root)
        self.vmail = root / "vmail"
        nobody = pwd.getpwnam("nobody")
        self.vmail.mkdir(mode=0o755, exist_ok=True)
        os.chown(self.vmail, nobody.pw_uid, nobody.pw_gid)
        self.pf = PrivatePostfix(root=root, extra_main={
            "myhostname": "postfix.bench.test",
            "mydomain": "bench.test",
            "myorigin": "postfix.bench.test",
            # Delivery: virtual(8) into one Maildir per local part, catch-all map.
            "virtual_mailbox_domains": DOMAIN,
            "virtual_mailbox_base": str(self.vmail),
            "virtual_mailbox_maps": "static:maildir/",  # catch-all; trailing / = Maildir
            "virtual_uid_maps": f"static:{nobody.pw_uid}",
            "virtual_gid_maps": f"static:{nobody.pw_gid}",
            "virtual_mailbox_limit": "0",
            "message_size_limit": str(200 * MIB),
            # Not throttled.
            "default_process_limit": str(process_limit),
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "smtpd_client_recipient_rate_limit": "0",
            "smtpd_client_event_limit_exceptions": "",
            "in_flow_delay": "0",
            "smtpd_soft_error_limit": "1000",
            "smtpd_hard_error_limit": "1000",
            **(extra_main or {}),
        })
        self.port = self.pf.port

    def start(self) -> None:
        try:
            self.pf.start()
        except AssertionError as e:
            raise RuntimeError(" ".join(str(e).split())[:600]) from None
        self.pid = self.pf.master_pid()

    def stop(self) -> None:
        self.pf.stop()

    def alive(self) -> bool:
        return self.pf.alive()

    def maildir(self, local: str) -> Path | None:
        return self.vmail / "maildir"

    def queue_empty(self) -> bool:
        return self.pf.queue_empty()

    def memory_kb(self) -> int:
        pid = self.pf.master_pid()
        return sum(pss_kb(p) for p in process_tree(pid)) if pid else 0

    def log_tail(self) -> str:
        return tail(self.root / "maillog", 6)


def make(kind: str, root: Path, taube: str, postfix_process_limit: int) -> Server:
    if kind == "taube":
        return Taube(root, taube, "maildir")
    if kind == "taube-discard":
        return Taube(root, taube, "discard")
    if kind == "postfix":
        return Postfix(root, postfix_process_limit)
    if kind == "aiosmtpd":
        return Aiosmtpd(root)
    if kind == "smtp-sink":
        return Sink(root)
    raise ValueError(kind)


def preflight(kind: str) -> str | None:
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
    return None

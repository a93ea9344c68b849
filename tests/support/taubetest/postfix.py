"""A private Postfix instance: never the system one, never port 25.

Its own config_directory (main.cf, master.cf), queue_directory, data_directory and maillog file
live in one directory; smtpd listens on a free loopback port. master.cf is Debian's minus its
inet services, chroot off (our queue directory holds no chroot jail), only the services below.
Needs root, the postfix user and the postdrop group.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import HOST
from .procinfo import process_tree
from .process import free_port, wait_smtp

_live: "set[PrivatePostfix]" = set()


@atexit.register
def _stop_leftovers() -> None:
    for pf in list(_live):
        pf.cleanup()


def _shlib_directory() -> str:
    p = subprocess.run(["postconf", "-c", "/usr/share/postfix", "-dh", "shlib_directory"],
                       capture_output=True, text=True)
    d = p.stdout.strip()
    return d if d.startswith("/") else "/usr/lib/postfix"


class PrivatePostfix:
    """Postfix in `root` (default: a fresh temp dir, removed at cleanup). With `relay_port` it
    relays everything to [127.0.0.1]:relay_port and retries fast; `extra_main` adds or overrides
    main.cf parameters (e.g. virtual(8) delivery for the benchmark)."""

    SERVICES = {"pickup", "cleanup", "qmgr", "rewrite", "bounce", "defer", "trace", "smtp",
                "showq", "flush", "postlog", "relay", "error", "retry", "anvil", "scache",
                "verify", "proxymap", "proxywrite", "discard", "tlsmgr", "virtual"}

    def __init__(self, relay_port: int | None = None, extra_main: dict | None = None, *,
                 root: Path | None = None):
        self._own_dir = root is None
        self.dir = Path(tempfile.mkdtemp(prefix="taube-pf-")) if root is None else Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf = self.dir / "conf"
        self.queue = self.dir / "queue"
        self.port = free_port()
        main = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue),
            "data_directory": str(self.dir / "data"),
            "shlib_directory": _shlib_directory(),
            "meta_directory": "/etc/postfix",
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "maillog_file": str(self.dir / "maillog"),
            "maillog_file_prefixes": str(self.dir),
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "myhostname": "pf.test",
            "mydomain": "pf.test",
            "myorigin": "pf.test",
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
            "smtpd_peername_lookup": "no",
            "biff": "no",
        }
        if relay_port is not None:
            main.update({
                "relayhost": f"[127.0.0.1]:{relay_port}",
                "queue_run_delay": "5s",
                "minimal_backoff_time": "5s",
                "maximal_backoff_time": "10s",
                "smtp_connect_timeout": "5s",
            })
        main.update(extra_main or {})
        self.main = main
        self.conf.mkdir(exist_ok=True)
        (self.conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in main.items()))
        (self.conf / "master.cf").write_text(self._master_cf())
        # postfix check creates the queue subdirectories, not the queue directory itself.
        self.queue.mkdir(mode=0o755, exist_ok=True)
        data = self.dir / "data"
        data.mkdir(mode=0o700, exist_ok=True)
        pw = pwd.getpwnam("postfix")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        self.started = False

    def _master_cf(self) -> str:
        """/etc/postfix/master.cf, minus the inet lines, plus our smtpd; chroot off."""
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
                f[4] = "n"  # chroot
                out.append(" ".join(f) + "\n")
        return "".join(out)

    def _postfix(self, *args: str, check: bool = True, timeout: float = 120):
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
                                 f"{p.stdout}{p.stderr}{diag}\nmaillog:\n{self.maillog()[-4000:]}")
        return p

    def start(self, timeout: float = 30) -> None:
        _live.add(self)
        self._postfix("check")
        self._postfix("start")
        self.started = True
        if not wait_smtp(self.port, timeout):
            raise AssertionError(f"private postfix smtpd not answering on {self.port}; "
                                 f"maillog:\n{self.maillog()[-4000:]}")

    def master_pid(self) -> int | None:
        try:
            pid = int((self.queue / "pid" / "master.pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.master_pid() is not None

    def queue_empty(self) -> bool:
        for q in ("maildrop", "incoming", "active", "deferred", "hold"):
            for _, _, files in os.walk(self.queue / q):
                if files:
                    return False
        return True

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

    def stop(self, timeout: float = 30) -> None:
        """postfix stop, then wait until master and every child of it are gone."""
        if not self.started:
            return
        pid = self.master_pid()
        tree = process_tree(pid) if pid else []
        self._postfix("stop", check=False)
        self.started = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any(os.path.exists(f"/proc/{p}") for p in tree):
                break
            time.sleep(0.1)

    def cleanup(self) -> None:
        _live.discard(self)
        self.stop()
        if self._own_dir and not os.environ.get("TAUBE_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

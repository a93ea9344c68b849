"""A private Dovecot LMTP server: never the system instance.

Its own dovecot.conf, base_dir, state_dir, log file, passwd-file (passdb and userdb) and mail
store live in one temporary directory; `protocols = lmtp` only, listening on a unix socket in
that directory and on 127.0.0.1:<free port>. Mail is stored as Maildir under <dir>/mail, owned
by a non-root uid (Dovecot refuses to deliver as uid 0): `nobody` when the tests run as root,
else the test user itself (Dovecot then runs unprivileged, with its internal and login users set
to that user). The quota plugin is on (maildir backend): a user may get a quota rule and a
quota_full_tempfail of its own through userdb extra fields, so one instance answers 552 5.2.2
for one user and 452 4.2.2 for another (Dovecot checks the quota after the data, so both are
per-recipient replies to the final dot, RFC 2033 §4.2).

    dv = PrivateDovecot({"ann@store.test": {}, "tiny@store.test": {"quota": "1K"},
                         "tight@store.test": {"quota": "1K", "tempfail": True}})
    dv.start()
    ... "lmtp:unix:" + str(dv.socket) or f"lmtp:[127.0.0.1]:{dv.port}" ...
    dv.messages("ann@store.test")   # the files in that user's Maildir new/ and cur/
    dv.cleanup()
"""

from __future__ import annotations

import atexit
import os
import pwd
import grp
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import HOST
from .process import free_port, wait_smtp

DOVECOT = "/usr/sbin/dovecot"
LMTP = "/usr/lib/dovecot/lmtp"  # Debian's dovecot-lmtpd

_live: "set[PrivateDovecot]" = set()


@atexit.register
def _stop_leftovers() -> None:
    for dv in list(_live):
        dv.cleanup()


def available() -> bool:
    return os.access(DOVECOT, os.X_OK) and os.access(LMTP, os.X_OK)


def wait_unix_greeting(path: Path, timeout: float, alive=lambda: True) -> bool:
    """Wait until the LMTP server on the unix socket `path` greets with 220 (then QUIT)."""
    return wait_smtp(path, timeout, alive)


class PrivateDovecot:
    """Dovecot's LMTP server for `users`: {address: {"quota": "1K", "tempfail": bool}}. Every
    user has the password "x" (unused: LMTP does not authenticate)."""

    def __init__(self, users: dict[str, dict], *, hostname: str = "dovecot.test"):
        self.dir = Path(tempfile.mkdtemp(prefix="taube-dv-"))
        # Dovecot's processes run as other users (dovecot, nobody): they must reach the files.
        os.chmod(self.dir, 0o755)
        self.users = dict(users)
        self.hostname = hostname
        self.socket = self.dir / "lmtp"
        self.port = free_port()
        self.mail_root = self.dir / "mail"
        self.mail_root.mkdir()
        self.log_path = self.dir / "dovecot.log"
        self.proc: subprocess.Popen | None = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.uid, self.gid = nobody.pw_uid, nobody.pw_gid
            self.unprivileged = None
        else:
            self.uid, self.gid = os.geteuid(), os.getegid()
            self.unprivileged = (pwd.getpwuid(self.uid).pw_name, grp.getgrgid(self.gid).gr_name)
        os.chown(self.mail_root, self.uid, self.gid)
        self._write_users()
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(self._config())

    # -- configuration -----------------------------------------------------------------------

    def home(self, address: str) -> Path:
        local, _, domain = address.rpartition("@")
        return self.mail_root / domain.lower() / local.lower()

    def _write_users(self) -> None:
        lines = []
        for addr, opts in self.users.items():
            extra = []
            if opts.get("quota"):
                extra.append(f"userdb_quota_rule=*:storage={opts['quota']}")
            if opts.get("tempfail"):
                extra.append("userdb_quota_full_tempfail=yes")
            # user:password:uid:gid:gecos:home:shell:extra_fields (Dovecot's passwd-file)
            lines.append(f"{addr}:{{PLAIN}}x:{self.uid}:{self.gid}::{self.home(addr)}::"
                         + " ".join(extra))
        path = self.dir / "users"
        path.write_text("\n".join(lines) + "\n")
        os.chmod(path, 0o644)

    def _config(self) -> str:
        d = self.dir
        text = f"""# A private Dovecot for Taube's tests (tests/support/taubetest/dovecot.py)
base_dir = {d}/run
state_dir = {d}/state
log_path = {self.log_path}
instance_name = taube-test-{os.getpid()}-{d.name}
protocols = lmtp
ssl = no
listen = {HOST}
hostname = {self.hostname}
mail_location = maildir:~/Maildir
first_valid_uid = 1
mail_plugins = quota
lmtp_rcpt_check_quota = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {d}/users
}}
userdb {{
  driver = passwd-file
  args = {d}/users
}}
plugin {{
  quota = maildir:User quota
}}
service lmtp {{
  unix_listener {self.socket} {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = {HOST}
    port = {self.port}
  }}
}}
service anvil {{
  chroot =
}}
"""
        if self.unprivileged:
            user, group = self.unprivileged
            text += f"""default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
service lmtp {{
  user = {user}
}}
"""
        return text

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 20) -> None:
        _live.add(self)
        log = open(self.dir / "foreground.log", "ab")
        try:
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        alive = lambda: self.proc.poll() is None  # noqa: E731
        if not (wait_unix_greeting(self.socket, timeout, alive)
                and wait_smtp(self.port, timeout, alive)):
            raise AssertionError(f"private dovecot did not greet on {self.socket} and port "
                                 f"{self.port}: {self.diag()}")

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM to the master (our child), which stops its own processes."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def cleanup(self) -> None:
        _live.discard(self)
        self.stop()
        if os.environ.get("TAUBE_KEEP_TMP"):
            print(f"kept {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- what it did -------------------------------------------------------------------------

    def maildir(self, address: str) -> Path:
        return self.home(address) / "Maildir"

    def messages(self, address: str) -> list[Path]:
        """The messages in the INBOX of `address` (new/ and cur/)."""
        md = self.maildir(address)
        return sorted(p for sub in ("new", "cur") if (md / sub).is_dir()
                      for p in (md / sub).iterdir() if p.is_file())

    def wait_messages(self, address: str, marker: bytes, n: int = 1,
                      timeout: float = 15.0) -> list[Path]:
        """Wait until `address` holds n messages with `marker`; returns them (fewer at timeout)."""
        deadline = time.monotonic() + timeout
        while True:
            got = [p for p in self.messages(address) if marker in p.read_bytes()]
            if len(got) >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no dovecot log)"

    def diag(self) -> str:
        fg = ""
        try:
            fg = (self.dir / "foreground.log").read_text(errors="replace")
        except OSError:
            pass
        return f"\n--- dovecot log:\n{self.log()[-4000:]}\n--- dovecot stderr:\n{fg[-2000:]}"

"""TLS / AUTH / relay-policy servers and sessions.

SecTaube is a Taube with several listeners, a [tls] section whose certificate the server makes
on first start, a relay spool, and a users file: alice with a yescrypt hash written by
`taube passwd`, bob with a SHA-512 crypt hash from `openssl passwd -6`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import HOST
from .config import merge
from .process import Taube, taube_bin
from .smtp import RawClient, Reply, TlsClient, b64, client_ctx, ehlo_keywords, plain
from .maildir import TLS_INFO_RX, all_stored, find_marker, parse_received, received
from .messages import message

__all__ = ["ALICE", "ALICE_PW", "BOB", "BOB_PW", "HOST", "LOCAL_DOMAINS", "RawClient", "Reply",
           "SecTaube", "TLS_INFO_RX", "Taube", "TlsClient", "all_stored", "b64", "client_ctx",
           "ehlo_keywords", "find_marker", "implicit_session", "listener", "merge", "message",
           "out", "parse_received", "plain", "received", "run", "taube_bin", "tls_session",
           "write_users"]

ALICE = "alice@example.org"
ALICE_PW = "alice-s3cret"
BOB = "bob@example.org"
BOB_PW = "b0b-pa55word"
LOCAL_DOMAINS = ["localhost", "example.org"]


def listener(tls: str = "starttls", **kw) -> dict:
    d = {"address": HOST, "port": 0, "tls": tls}
    d.update(kw)
    return d


class SecTaube(Taube):
    """taube with TLS (self-signed cert generated at <work>/cert.pem), AUTH and a relay spool.

    `listeners` is a list of [[listener]] dicts; their ports are in `self.ports` (listener
    order, parsed from the `listening on` lines)."""

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
            # The relay tests look at what was queued: a smarthost that refuses connections
            # keeps every relayed message in the queue (deferred, next try in an hour).
            "relay": {"networks": [], "spool": str(self.spool), "smarthost": "127.0.0.1:1",
                      "smarthost_tls": "none"},
            "queue": {"retry_min": 3600, "retry_max": 3600},
        }
        try:
            if users:
                write_users(self.users_file)
                cfg["auth"] = {"users_file": str(self.users_file), "failure_delay": 0.2,
                               "max_failures": 1000, "failure_window": 300, "ban_time": 600,
                               "restrict_sender": True}
            cfg = merge(cfg, {"auth": auth} if auth else None)
            cfg = merge(cfg, {"relay": relay} if relay else None)
            cfg = merge(cfg, extra)
            super().__init__(cfg, start_timeout=start_timeout)
        except BaseException:
            shutil.rmtree(self.work, ignore_errors=True)
            raise

    def cleanup(self) -> None:
        super().cleanup()
        if not os.environ.get("TAUBE_KEEP_TMP"):
            shutil.rmtree(self.work, ignore_errors=True)

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
    p = subprocess.run([taube_bin(), "passwd", ALICE, "--file", str(path)],
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


def tls_session(srv: Taube, index: int = 0, ehlo: bool = True) -> RawClient:
    """Connected, greeted, STARTTLS done, (optionally) EHLO sent again over TLS."""
    c = srv.client(index)
    c.greet()
    c.starttls()
    if ehlo:
        c.ehlo()
    return c


def implicit_session(srv: Taube, index: int, ehlo: bool = True) -> RawClient:
    c = srv.client(index, implicit=True)
    c.expect("220 ")
    if ehlo:
        c.ehlo()
    return c


def run(cmd: list[str], timeout: float = 30, input: bytes | None = None):
    """A command's result with bytes output (see out())."""
    return subprocess.run(cmd, capture_output=True, timeout=timeout, input=input)


def out(p: subprocess.CompletedProcess) -> str:
    return (p.stdout.decode(errors="replace") + "\n--- stderr ---\n"
            + p.stderr.decode(errors="replace"))

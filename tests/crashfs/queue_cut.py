"""Power cuts of the outbound queue (test_power_cut_queue): the workload, ledger and checks that
plug the queue into power_cut.py's cut -> kill -> remount -> restart -> check cycle.

- QueueServer: a taube relaying for 127.0.0.0/8 whose queue directory ([queue] path) and mail
  root (for bounces to the local sender) are both on the crashfs mount, with the shim preloaded.
- A ledger of relay submissions (sender alice@example.org, uniquely marked messages to
  recipients at remote.test), each acked / rejected / unknown / not-sent, as in power_cut.py.
- The destination: one SmtpPeer on 127.0.0.2 at a fixed port, stopped ("down": connections
  refused, so mail stays queued) or started; it records every accepted transaction across its
  restarts, so the checks count deliveries per (marker, recipient).
- Checks: account() says, for every acknowledged recipient, whether it is still in the queue
  (a complete message file and its envelope), arrived at the peer, or bounced (a DSN in the
  sender's Maildir naming the recipient and quoting the marker); nothing may be none of them.
  queue_partial() finds message files in <queue>/new that are not a complete copy of what was
  acknowledged.
"""

from __future__ import annotations

import random
import re
import smtplib
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))
import crashfs  # noqa: E402
import harness as h  # noqa: E402
import power_cut as pc  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest import robust as rh  # noqa: E402
from taubetest.config import merge  # noqa: E402
from taubetest.smtp_peer import SmtpPeer, free_port  # noqa: E402

SENDER = o.ALICE  # a local user: her bounces land in her Maildir on the crashfs
# The marker is in the Message-ID: found in a message and in the headers a DSN returns.
MARKER_RX = re.compile(rb"<(q-[0-9A-Za-z-]+)@client\.test>")


class QueueServer(rh.RTaube):
    def __init__(self, fs: crashfs.CrashFs, peer_port: int, journal: bool = False,
                 drop: str = "", queue: dict | None = None):
        cfg = o.config({o.REMOTE: f"smtp:[127.0.0.2]:{peer_port}"},
                       queue=merge({"path": str(fs.mnt / "queue"), "max_lifetime": 86400}, queue),
                       outbound={"tls": "none"})
        cfg = merge(cfg, {"delivery": {"journal": journal, "journal_size_mb": 4},
                          "server": {"worker_threads": 4}})
        try:
            super().__init__(cfg, port=h.free_port(), mail_root=fs.mnt / "mail",
                             env=crashfs.preload_env(drop))
        except AssertionError as e:
            raise pc.StartFailed(str(e)) from None
        self.queue = fs.mnt / "queue"

    def restart(self, timeout: float = 10.0) -> None:
        try:
            super().restart(timeout)
        except AssertionError as e:
            raise pc.StartFailed(str(e)) from None


class QRecord:
    __slots__ = ("marker", "body", "rcpts", "status")

    def __init__(self, marker: str, body: bytes, rcpts: list[str]):
        self.marker, self.body, self.rcpts = marker, body, rcpts
        self.status = "sending"


def make_message(marker: str, rng: random.Random, rcpts: list[str]) -> bytes:
    size = rng.randrange(200, 4_000) if rng.random() < 0.8 else rng.randrange(10_000, 60_000)
    filler = b"".join(b"%s line %d %s\r\n" % (marker.encode(), i, b"x" * rng.randrange(10, 70))
                      for i in range(size // 60))
    return o.message(marker, body=filler, to=rcpts[0])


def submit(port: int, rec: QRecord) -> None:
    """One connection, one transaction; sets rec.status (power_cut.send_one's rules)."""
    try:
        with smtplib.SMTP(h.HOST, port, timeout=15) as smtp:
            smtp.ehlo("queuecut.test")
            code, _ = smtp.mail(SENDER)
            if code != 250:
                rec.status = "not-sent"
                return
            for r in rec.rcpts:
                code, _ = smtp.rcpt(r)
                if code != 250:
                    rec.status = "not-sent"
                    return
            rec.status = "unknown"
            code, _ = smtp.data(rec.body)
            rec.status = "acked" if code == 250 else "rejected"
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    except (OSError, smtplib.SMTPException):
        if rec.status == "sending":
            rec.status = "not-sent"


class Load:
    """`threads` clients submitting one message per connection until stopped; `gate` pauses
    them (during a cut's restart); `on_ack(rec)` runs right after a 250."""

    def __init__(self, port_of, ledger: pc.Ledger, seed: int, rcpts_of, threads: int = 3,
                 tag: str = "r", pace: float = 0.02):
        self.port_of, self.ledger, self.seed, self.rcpts_of = port_of, ledger, seed, rcpts_of
        self.tag, self.pace = tag, pace
        self.stop = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.on_ack = None
        self.busy = 0  # workers inside a submission
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        self.gate.set()
        for t in self.threads:
            t.join(60)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """After gate.clear(): until no submission is in flight (its status is final)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.busy == 0:
                    return
            time.sleep(0.02)
        raise AssertionError("a submission did not finish")

    def _worker(self, idx: int) -> None:
        rng = random.Random(self.seed * 1000 + idx)
        seq = 0
        while not self.stop.is_set():
            self.gate.wait()
            if self.stop.is_set():
                break
            with self.lock:
                self.busy += 1
            if not self.gate.is_set():  # cleared in between: wait_idle may have seen 0
                with self.lock:
                    self.busy -= 1
                continue
            seq += 1
            marker = f"q-{self.tag}-{self.seed:x}-{idx}-{seq}"
            rcpts = self.rcpts_of(rng, marker)
            rec = QRecord(marker, make_message(marker, rng, rcpts), rcpts)
            self.ledger.add(rec)
            try:
                submit(self.port_of(), rec)
            finally:
                with self.lock:
                    self.busy -= 1
            if rec.status == "acked" and self.on_ack:
                self.on_ack(rec)
            if rec.status != "acked":
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 2 * self.pace))


# --------------------------------------------------------------------------------------------
# Checks


def stored_form(body: bytes) -> bytes:
    return body.replace(b"\r\n", b"\n")


def queue_items(queue: Path) -> dict[str, list[str]]:
    """marker -> names of complete items (message file in new/ with an envelope in env/)."""
    out: dict[str, list[str]] = {}
    new = queue / "new"
    if not new.is_dir():
        return out
    for p in new.iterdir():
        if not (queue / "env" / p.name).is_file():
            continue
        try:
            m = MARKER_RX.search(p.read_bytes())
        except OSError:
            continue
        if m:
            out.setdefault(m.group(1).decode(), []).append(p.name)
    return out


def queue_partial(queue: Path, records: list[QRecord]) -> list:
    """Message files in new/ that are not a complete copy of a submitted message."""
    sent = {r.marker: r.body for r in records}
    bad = []
    new = queue / "new"
    for p in sorted(new.iterdir()) if new.is_dir() else []:
        try:
            raw = p.read_bytes()
        except FileNotFoundError:
            continue  # delivered and removed since the listing
        m = MARKER_RX.search(raw)
        mk = m.group(1).decode() if m else None
        if mk not in sent:
            bad.append((p.name, f"unknown content {raw[:100]!r}"))
        elif not raw.endswith(stored_form(sent[mk])) or not raw.startswith(b"Received:"):
            bad.append((p.name, f"{mk}: not complete ({len(raw)} bytes)"))
    return bad


def peer_copies(peer: SmtpPeer, records: list[QRecord]) -> tuple[dict, list]:
    """(marker, rcpt) -> accepted deliveries at the peer; and deliveries whose content differs
    from what was submitted (a Received: header on top of the message as sent)."""
    sent = {r.marker: r.body for r in records}
    copies: dict = {}
    bad = []
    for t in peer.messages():
        m = MARKER_RX.search(t.data or b"")
        mk = m.group(1).decode() if m else None
        try:
            _, rest = o.split_received(t.data)
        except AssertionError:
            rest = None
        if mk not in sent or rest != sent[mk]:
            bad.append((mk, len(t.data or b"")))
            continue
        for r in t.rcpt_addrs():
            copies[(mk, r.lower())] = copies.get((mk, r.lower()), 0) + 1
    return copies, bad


def bounce_copies(srv: QueueServer) -> tuple[dict, list]:
    """(marker, failed rcpt) -> DSNs in the sender's Maildir reporting it; and files there that
    are no complete DSN."""
    copies: dict = {}
    bad = []
    md = srv.maildir(SENDER)
    for sub in ("new", "cur"):
        d = md / sub
        for p in sorted(d.iterdir()) if d.is_dir() else []:
            raw = p.read_bytes()
            try:
                dsn = o.Dsn(raw, p)
                groups = [g for g in dsn.recipients if g.get("action", "").lower() == "failed"]
                m = MARKER_RX.search(raw)
                if dsn.content_type != "multipart/report" or not groups or not m or \
                        not raw.rstrip().endswith(b"--"):
                    raise ValueError("not a complete failure DSN")
            except Exception as e:  # noqa: BLE001 - any parse failure is a partial file
                bad.append((p.name, f"{e} ({len(raw)} bytes)"[:200]))
                continue
            mk = m.group(1).decode()
            for g in groups:
                rc = g.get("final-recipient", "").split(";", 1)[-1].strip().lower()
                copies[(mk, rc)] = copies.get((mk, rc), 0) + 1
    return copies, bad


@dataclass
class Account:
    acked: int = 0
    delivered: int = 0      # acked recipients that reached the peer
    bounced: int = 0        # acked recipients reported failed to the sender
    queued: int = 0         # acked recipients whose item is still queued
    duplicates: int = 0     # extra copies (peer or bounces) of acked recipients
    unacked_delivered: int = 0
    lost: list = field(default_factory=list)
    partial: list = field(default_factory=list)
    both: list = field(default_factory=list)  # delivered and bounced

    def bad(self) -> int:
        return len(self.lost) + len(self.partial) + len(self.both)

    def summary(self) -> str:
        return (f"acked={self.acked} delivered={self.delivered} bounced={self.bounced} "
                f"queued={self.queued} duplicates={self.duplicates} lost={len(self.lost)} "
                f"partial={len(self.partial)} both={len(self.both)}")


def account(srv: QueueServer, peer: SmtpPeer, records: list[QRecord],
            queue_root: Path | None = None) -> Account:
    """Reads the queue first, then the peer and the Maildir (an item delivered in between is at
    the peer by then: Taube removes an item only after the peer's 250)."""
    root = queue_root or srv.queue
    items = queue_items(root)
    partial = queue_partial(root, records)
    pcopies, pbad = peer_copies(peer, records)
    bcopies, bbad = bounce_copies(srv)
    a = Account(partial=partial + [("peer", x) for x in pbad] + [("dsn", x) for x in bbad])
    for r in records:
        if r.status != "acked":
            if any(pcopies.get((r.marker, x.lower())) for x in r.rcpts):
                a.unacked_delivered += 1
            continue
        a.acked += 1
        for x in r.rcpts:
            np, nb = pcopies.get((r.marker, x.lower()), 0), bcopies.get((r.marker, x.lower()), 0)
            a.delivered += np > 0
            a.bounced += nb > 0
            a.duplicates += max(0, np - 1) + max(0, nb - 1)
            if np and nb:
                a.both.append((r.marker, x))
            if not np and not nb:
                if r.marker in items:
                    a.queued += 1
                else:
                    a.lost.append((r.marker, x))
    return a


def stray_files(queue: Path) -> list[str]:
    """After the queue drained: anything left in new/, env/, tmp/, corrupt/ or transcripts/."""
    return [str(p) for sub in ("new", "env", "tmp", "corrupt", "transcripts")
            if (queue / sub).is_dir()
            for p in (queue / sub).iterdir()]


def wait_drained(srv: QueueServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        srv.assert_alive()
        if not any((srv.queue / s).is_dir() and any((srv.queue / s).iterdir())
                   for s in ("new", "env")):
            return True
        time.sleep(0.2)
    return False


__all__ = ["Account", "Load", "QRecord", "QueueServer", "SENDER", "SmtpPeer", "account",
           "free_port", "make_message", "stray_files", "submit", "wait_drained"]

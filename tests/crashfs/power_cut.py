"""Power-cut tests of the real server on crashfs: the harness.

The pieces, so that other workloads (the outbound queue, when it exists) plug into the same loop:

- PowerCutServer: a restartable taube (taubetest's Taube) whose mail root is on the crashfs
  mount, started with the shim preloaded (the syncfs relay, and optionally a "broken build" that
  drops one kind of sync call: CRASHFS_DROP).
- A workload: something that sends traffic and keeps a ledger of what the server promised.
  MailLoad (SMTP clients sending uniquely marked messages, each recorded as acked / rejected /
  unknown) is the receive path's; sequential() sends one message at a time (for armed cuts).
  The outbound queue's workload and checks (relay submissions; queue files, a recording
  destination's deliveries, DSNs) are in queue_cut.py.
- A checker: survey() reads every Maildir and classifies every file against the ledger
  (complete copies per recipient, partial files, unknown files); Verdict holds what must be 0.
- Runner: the cut -> kill -> remount -> restart -> check cycle, with the cut strategies: at a
  random moment under load, right after a client saw a 250, and armed at the N-th sync-class call
  (after it succeeded, or instead of it).
"""

from __future__ import annotations

import random
import smtplib
import subprocess as sp
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
from taubetest import robust as rh  # noqa: E402

SHARED_RCPT = "alice@localhost"
PRECREATE = [SHARED_RCPT, "bob@localhost"] + [f"u{i}@localhost" for i in range(16)]
RECOVERY_RX = (r"delivery journal: (\d+) message\(s\) delivered after a restart, (\d+) already "
               r"there")


# --------------------------------------------------------------------------------------------
# The server


class PowerCutServer(rh.RTaube):
    """A restartable taube (taubetest's Taube: fixed port, kill9, restart) whose mail root is on
    the crashfs and which runs with the LD_PRELOAD shim (syncfs relay, optional sync drops)."""

    def __init__(self, fs: crashfs.CrashFs, journal: bool, drop: str = "", port: int | None = None):
        cfg = {"delivery": {"journal": journal, "journal_size_mb": 4},
               "server": {"worker_threads": 4}}
        try:
            super().__init__(cfg, port=port or h.free_port(), mail_root=fs.mnt / "mail",
                             env=crashfs.preload_env(drop))
        except AssertionError as e:
            raise StartFailed(str(e)) from None

    def restart(self, timeout: float = 10.0) -> None:
        try:
            super().restart(timeout)
        except AssertionError as e:
            raise StartFailed(str(e)) from None


class StartFailed(AssertionError):
    pass


class Violation(AssertionError):
    """Raised by Runner.after_cut when fail_fast is set and a check failed."""


# --------------------------------------------------------------------------------------------
# The ledger and the mail workload


class Record:
    __slots__ = ("marker", "body", "rcpts", "status")

    def __init__(self, marker: str, body: bytes, rcpts: list[str]):
        self.marker, self.body, self.rcpts = marker, body, rcpts
        self.status = "sending"  # acked | rejected | unknown | not-sent


class Ledger:
    def __init__(self):
        self.records: dict[str, Record] = {}
        self.lock = threading.Lock()

    def add(self, rec: Record) -> None:
        with self.lock:
            self.records[rec.marker] = rec

    def snapshot(self) -> list[Record]:
        with self.lock:
            return list(self.records.values())


def body_size(rng: random.Random) -> int:
    x = rng.random()
    if x < 0.6:
        return rng.randrange(300, 4_000)
    if x < 0.9:
        return rng.randrange(10_000, 60_000)
    return rng.randrange(100_000, 250_000)


def send_one(smtp: smtplib.SMTP, rec: Record) -> bool:
    """One transaction; False when the connection is unusable. Sets rec.status."""
    try:
        code, _ = smtp.mail(rh.SENDER)
        if code != 250:
            rec.status = "not-sent"
            smtp.rset()
            return True
        for r in rec.rcpts:
            code, _ = smtp.rcpt(r)
            if code != 250:
                rec.status = "not-sent"
                smtp.rset()
                return True
        rec.status = "unknown"  # from the end of DATA on, a lost connection leaves it open
        code, _ = smtp.data(rec.body)
    except (OSError, smtplib.SMTPException):
        if rec.status == "sending":
            rec.status = "not-sent"
        return False
    rec.status = "acked" if code == 250 else "rejected"
    return True


class MailLoad:
    """`threads` SMTP clients, each sending to alice@localhost and its own u<N>@localhost.
    `gate` pauses them between transactions; `on_ack(rec)` runs in the client thread right
    after a 250 (the "cut right after a 250" strategy)."""

    def __init__(self, port: int, ledger: Ledger, seed: int, threads: int = 8, tag: str = "m",
                 pace: float = 0.0):
        self.port, self.ledger, self.seed, self.tag = port, ledger, seed, tag
        self.pace = pace  # seconds between a thread's transactions (bounds the data per cut)
        self.stop = threading.Event()
        self.gate = threading.Event()
        self.gate.set()
        self.on_ack = None
        self.epoch = 0  # bumped at each cut: senders reconnect
        self.threads = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                        for i in range(threads)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        self.gate.set()
        for t in self.threads:
            t.join(60)
            if t.is_alive():
                raise AssertionError("a sender thread did not finish")

    def _worker(self, idx: int) -> None:
        rng = random.Random(self.seed * 1000 + idx)
        seq = 0
        rcpts = [SHARED_RCPT, f"u{idx}@localhost"]
        while not self.stop.is_set():
            self.gate.wait()
            if self.stop.is_set():
                break
            epoch = self.epoch
            try:
                smtp = smtplib.SMTP(h.HOST, self.port, timeout=15)
                smtp.ehlo("powercut.test")
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)
                continue
            try:
                while not self.stop.is_set() and self.gate.is_set() and epoch == self.epoch:
                    seq += 1
                    marker = f"m-{self.tag}-{self.seed:x}-{idx}-{seq}"
                    rec = Record(marker, rh.make_body(marker, body_size(rng), rng), rcpts)
                    self.ledger.add(rec)
                    ok = send_one(smtp, rec)
                    if rec.status == "acked" and self.on_ack:
                        self.on_ack(rec)
                    if not ok or rec.status == "rejected":
                        break  # after a 451 the server is in trouble: reconnect
                    if self.pace:
                        time.sleep(rng.uniform(0, 2 * self.pace))
            finally:
                try:
                    smtp.close()
                except OSError:
                    pass


def sequential(port: int, ledger: Ledger, tag: str, n: int, fs: crashfs.CrashFs,
               rng: random.Random) -> int:
    """Sends up to `n` messages one after the other (one connection each), stopping once the
    file system is dead; returns how many were acked."""
    acked = 0
    for k in range(n):
        marker = f"m-{tag}-{k}"
        rec = Record(marker, rh.make_body(marker, rng.randrange(300, 3000), rng),
                     [SHARED_RCPT, "bob@localhost"])
        ledger.add(rec)
        try:
            with smtplib.SMTP(h.HOST, port, timeout=15) as smtp:
                smtp.ehlo("powercut.test")
                send_one(smtp, rec)
                try:
                    smtp.quit()
                except (OSError, smtplib.SMTPException):
                    pass
        except (OSError, smtplib.SMTPException):
            if rec.status == "sending":
                rec.status = "not-sent"
        acked += rec.status == "acked"
        time.sleep(0.08)  # let the journal's publisher and its idle header write run
        if fs.dead():
            break
    return acked


# --------------------------------------------------------------------------------------------
# The checker


@dataclass
class Survey:
    copies: dict = field(default_factory=dict)  # (marker, maildir) -> complete copies
    partial: list = field(default_factory=list)  # (path, reason): must stay empty


def store_files(mail_root: Path) -> list[Path]:
    """Every file in every new/ and cur/ (robust_helpers.store_files without its wait for the
    journal's publisher: the tests check what is there while no traffic flows)."""
    out = []
    for md in h.all_maildirs(mail_root):
        for sub in ("new", "cur"):
            d = md / sub
            if d.is_dir():
                out.extend(p for p in d.iterdir() if p.is_file())
    return sorted(out)


def survey(mail_root: Path, records: list[Record], cache: dict | None = None) -> Survey:
    """Classifies every stored file. `cache` (path -> (size, marker)) skips re-reading files
    already found complete with the same size (Taube never rewrites a delivered file; a cut that
    rolled a file's content back changes its size)."""
    sent = {r.marker: r.body for r in records}
    s = Survey()
    for p in store_files(mail_root):
        if cache is not None:
            size = p.stat().st_size
            hit = cache.get(str(p))
            if hit and hit[0] == size:
                key = (hit[1], str(p.parent.parent))
                s.copies[key] = s.copies.get(key, 0) + 1
                continue
        raw = p.read_bytes()
        try:
            st = h.Stored(raw)
        except AssertionError as e:
            s.partial.append((str(p), f"not a complete message ({len(raw)} bytes): {e}"[:300]))
            continue
        mk = rh.marker_of(st.content)
        if mk is None or mk not in sent:
            s.partial.append((str(p), f"unknown content {raw[:120]!r}"))
            continue
        if st.content != rh.expected_stored_content(sent[mk]):
            s.partial.append((str(p), f"content of {mk} differs ({len(st.content)} bytes)"))
            continue
        key = (mk, str(p.parent.parent))
        s.copies[key] = s.copies.get(key, 0) + 1
        if cache is not None:
            cache[str(p)] = (len(raw), mk)
    return s


@dataclass
class Verdict:
    acked: int = 0
    lost: list = field(default_factory=list)        # acked, missing in a recipient's Maildir
    duplicated: list = field(default_factory=list)  # more than one copy in one Maildir
    partial: list = field(default_factory=list)
    unacked_delivered: int = 0  # no 250 seen, yet delivered (to some recipients): allowed

    def bad(self) -> int:
        return len(self.lost) + len(self.duplicated) + len(self.partial)

    def summary(self) -> str:
        return (f"acked={self.acked} lost={len(self.lost)} duplicated={len(self.duplicated)} "
                f"partial={len(self.partial)} unacked_delivered={self.unacked_delivered}")


def judge(srv: rh.RTaube, records: list[Record], s: Survey) -> Verdict:
    v = Verdict(partial=list(s.partial))
    for r in records:
        n = [s.copies.get((r.marker, str(srv.maildir(x))), 0) for x in r.rcpts]
        if any(c > 1 for c in n):
            v.duplicated.append((r.marker, r.status, n))
        if r.status == "acked":
            v.acked += 1
            if any(c == 0 for c in n):
                v.lost.append((r.marker, n))
        elif any(n):
            # RFC 5321 §6.1: without the 250 the client sends again, so a copy here is a
            # duplicate, never a loss. The cut can fall between two recipients' directories.
            v.unacked_delivered += 1
    return v


# --------------------------------------------------------------------------------------------
# The cycle


@dataclass
class Stats:
    cuts: int = 0
    random_cuts: int = 0
    ack_cuts: int = 0
    armed_cuts: int = 0
    cut_points: dict = field(default_factory=dict)  # "after fdatasync" -> count
    recovered: int = 0          # delivered from the journal at a restart
    recovered_present: int = 0  # journal records whose message had arrived
    restart_failures: list = field(default_factory=list)
    violations: list = field(default_factory=list)  # (when, summary, lost, partial, dups)


class Runner:
    """One crashfs mount, one server on it, one ledger; after_cut() runs the cycle."""

    def __init__(self, workdir: Path, journal: bool, tmpfile: bool = True, drop: str = "",
                 precreate: list[str] | None = None):
        self.fs = crashfs.CrashFs(workdir, tmpfile=tmpfile)
        self.fs.mount()
        (self.fs.mnt / "mail").mkdir()
        # The recipients' Maildirs exist (durably) before the server starts, as on a server in
        # service: Taube does not make a Maildir it creates itself durable (see
        # test_power_cut.NewMaildir), which would otherwise mask everything else.
        for addr in PRECREATE if precreate is None else precreate:
            local, _, domain = addr.partition("@")
            for sub in ("tmp", "new", "cur"):
                (self.fs.mnt / "mail" / domain / local / sub).mkdir(parents=True, exist_ok=True)
        self.fs.sync()
        self.journal = journal
        self.ledger = Ledger()
        self.stats = Stats()
        self.cache: dict = {}
        self.fail_fast = False
        self.srv = PowerCutServer(self.fs, journal, drop)
        self.fs.events()  # forget the start-up's syncs

    def close(self) -> None:
        try:
            self.srv.cleanup()
        finally:
            self.fs.cleanup()

    def note_cut_point(self, instead: bool = False) -> None:
        """Counts where the cut fell: after the last sync-class call the server made (or, for
        an armed cut "before", instead of it)."""
        ev = self.fs.events()
        if not ev:
            key = "before any sync"
        else:
            kind, path = ev[-1]
            if "journal" in path:
                what = " of the journal"
            elif kind == "fsyncdir":
                what = " of " + path.rsplit("/", 1)[-1] + "/"
            elif kind == "syncfs":
                what = ""
            else:
                what = " of a message file"
            key = f"{'instead of' if instead else 'after'} {kind}{what}"
        self.stats.cut_points[key] = self.stats.cut_points.get(key, 0) + 1

    def after_cut(self, load: MailLoad | None = None, label: str = "") -> Verdict:
        """The power is off: kill the server, reboot the disk, start the server, check."""
        self.stats.cuts += 1
        if load:
            load.gate.clear()
            load.epoch += 1
        self.srv.kill9()
        self.fs.remount()
        mark = len(self.srv.log)
        try:
            self.srv.restart()
        except StartFailed as e:
            self.stats.restart_failures.append(str(e)[:2000])
            raise
        m = self.srv.wait_log(RECOVERY_RX, 0, start=mark)
        if m:
            self.stats.recovered += int(m.group(1))
            self.stats.recovered_present += int(m.group(2))
        records = self.ledger.snapshot()
        v = judge(self.srv, records, survey(self.srv.mail_root, records, self.cache))
        if v.bad():
            self.stats.violations.append((label, v.summary(), v.lost[:3], v.partial[:3],
                                          v.duplicated[:3]))
            if self.fail_fast:
                raise Violation(label)
        self.fs.events()
        if load:
            load.gate.set()
        return v

    def random_cuts(self, n: int, rng: random.Random, threads: int = 8,
                    ack_cut_every: int = 4, pace: float = 0.01) -> None:
        """Under load: n cuts at random moments, every `ack_cut_every`-th right after a 250."""
        load = MailLoad(self.srv.port, self.ledger, rng.randrange(1 << 30), threads,
                        tag=f"r{self.stats.cuts}", pace=pace)
        fired = threading.Event()
        lock = threading.Lock()
        armed = [False]

        def cut_on_ack(_rec: Record) -> None:
            with lock:
                if not armed[0]:
                    return
                armed[0] = False
            self.fs.cut_quietly()  # in the client thread, before it sends anything more
            fired.set()

        load.start()
        try:
            for k in range(n):
                time.sleep(rng.uniform(0.15, 0.6))
                ack = bool(ack_cut_every) and k % ack_cut_every == ack_cut_every - 1
                if ack:
                    fired.clear()
                    armed[0] = True
                    load.on_ack = cut_on_ack
                    if not fired.wait(10):
                        raise AssertionError("no 250 within 10 s")
                    load.on_ack = None
                    self.stats.ack_cuts += 1
                else:
                    self.fs.cut()
                    self.stats.random_cuts += 1
                    self.note_cut_point()
                self.after_cut(load, f"{'ack' if ack else 'random'} cut {k + 1}")
            time.sleep(0.3)
        finally:
            load.join()

    def armed_sweep(self, calls: int, rng: random.Random, whens=(True, False)) -> None:
        """For N = 1..calls and each of after/before: arm the cut at the N-th sync-class call,
        send messages one at a time until the power is gone, then the cycle."""
        for n in range(1, calls + 1):
            for after in whens:
                self.fs.events()
                self.fs.arm(n, after=after)
                tag = f"a{self.stats.cuts}-{n}{'a' if after else 'b'}"
                sequential(self.srv.port, self.ledger, tag, 6, self.fs, rng)
                if not self.fs.dead():
                    self.fs.disarm()
                    continue  # fewer calls than n in six messages: nothing to cut
                self.stats.armed_cuts += 1
                self.note_cut_point(instead=not after)
                self.after_cut(None, f"armed cut {'after' if after else 'before'} sync {n}")

    def finish(self) -> Verdict:
        """Graceful stop (everything acknowledged is published), clean unmount, final check on
        the disk itself."""
        time.sleep(0.2)
        rc = self.srv.stop(check=False)
        self.fs.unmount()
        mail = self.fs.disk / "mail"
        records = self.ledger.snapshot()
        # The server's maildir() paths are under the mount; survey the disk and map back.
        s = survey(mail, records)
        s.copies = {(mk, md.replace(str(self.fs.disk), str(self.fs.mnt), 1)): c
                    for (mk, md), c in s.copies.items()}
        v = judge(self.srv, records, s)
        if v.bad():
            self.stats.violations.append(("final", v.summary(), v.lost[:3], v.partial[:3],
                                          v.duplicated[:3]))
        self.final_rc = rc
        self.tmp_left = [str(p) for p in rh.tmp_files(mail)]
        return v

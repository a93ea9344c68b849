"""Bench: starts the servers, runs every measurement of a profile, records the results."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from taubetest.maildir import count_files

from .common import DOMAIN, KIB, LAT_SESSIONS, MIB, fmt, log, message_bytes
from .latency import full_transaction, latency
from .load import throughput
from .memory import big, idle
from .relay import run_relay
from .scale import run_scale
from .servers import ProcServer, Server, Taube, make, preflight
from .system import cpu_busy, settle_disk


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
        self.scale: list[dict] = []  # queue scale: one record per N

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

    def started(self, kind: str) -> Server | None:
        if kind in self.unavailable:
            return None
        reason = preflight(kind)
        srv = None
        if reason is None:
            try:
                srv = make(kind, self.tmp / f"{kind}-{self.next_rcpt()}", self.args.taube,
                           max(250, self.p["idle_postfix"] + 100))
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
        """`--only receive`: the receiving measurements; `--only relay`: the relay ones."""
        only = getattr(self.args, "only", "all")
        if only in ("all", "receive"):
            self.run_receive()
        if only in ("all", "relay"):
            run_relay(self)
        # Not part of "all": ~10 GB of disk and 20 minutes for the 1M point (bench/README.md).
        if only == "scale":
            run_scale(self)

    def run_receive(self) -> None:
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
                            rec = throughput(self, srv, sessions, size, count)
                            rec["busy"] = busy
                            self.add("tput", (sessions, size), kind, rec)
                            log(f"{kind} {sessions} sess {size // KIB} KiB x{count} rep {r + 1}: "
                                f"acc {fmt(rec.get('acc_rate'))}/s del "
                                f"{fmt(rec.get('del_rate'))}/s lost {rec.get('lost', '-')}")
                            self.check_server(srv, f"after {sessions}x{size // KIB}KiB rep {r + 1}")
                for r in range(reps):
                    for kind, srv in rotated(r):
                        busy = self.wait_quiet()
                        rec = latency(self, srv, LAT_SESSIONS, self.p["lat_tx"])
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
                        rec = idle(self, srv, n)
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
                rec = big(self, srv, self.p["big"])
                rec["busy"] = busy
                self.add("big", self.p["big"], "taube", rec)
                log(f"taube big: peak {rec['peak_kb'] / 1024:.1f} MiB, growth "
                    f"{rec['growth_mib']:.1f} MiB, {rec['seconds']:.2f} s")
                self.check_server(srv, "after the big message")
            finally:
                srv.stop()

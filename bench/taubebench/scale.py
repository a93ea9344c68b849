"""Queue scale: N deferred messages (10k, 100k, 1M) in Taube's outbound queue, their destination
down. For each N: the restart (exec of `taube serve` -> first greeting + EHLO answered, and ->
the "queue loaded" log line), the resident memory per queued message (RSS after the load minus
the RSS of the same Taube with an empty queue, over N), then the destinations come back (the
smtp-sinks start on the port the routes name, ETRN per domain) and the queue drains: messages/s
until the sinks have every message, each exactly as often as it has destination domains.

The items are written by queuegen in Taube's format, from a template that a real Taube wrote
(one message to all 20 domains, deferred because nothing listens on the sinks' port)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

from taubetest import process as tp
from taubetest.config import to_toml
from taubetest.procinfo import cpu_seconds, proc_status
from taubetest.smtp import RawClient

from taubetest import queuegen
from .common import DOMAIN, HOST, SENDER, log
from .relay import DEST_DOMAINS, SINK_HOSTS, Sinks, message

SIZES = {"full": [10_000, 100_000, 1_000_000], "quick": [10_000, 100_000],
         "smoke": [2_000]}
DRAIN_MAX = {"full": 100_000, "quick": 100_000, "smoke": 2_000}
# Per item on disk: a 4 KiB block for the message and one for the envelope, two inodes.
DISK_PER_ITEM = 8 * 1024 + 512
BYTES_TARGET = 1024
SERVE_TARGET_S = 10.0
LOADED_RX = re.compile(r"queue (\S+): (\d+) message\(s\) loaded in ([\d.]+) s")
CORRUPT_RX = re.compile(r"corrupt queue file")


class ScaleTaube:
    """One `taube serve` on a fixed port and queue, spawned and timed by hand."""

    def __init__(self, root: Path, binary: str, queue: Path, sink_port: int, port: int):
        self.root, self.binary, self.queue, self.port = root, binary, queue, port
        root.mkdir(parents=True, exist_ok=True)
        cfg = {
            "hostname": DOMAIN,
            # info: the "queue loaded" line (and one line per delivery, as in production).
            "log_level": "info",
            "listener": [{"address": HOST, "port": port}],
            "delivery": {"mail_root": str(root / "mail"), "domains": [DOMAIN]},
            "limits": {"max_connections": 2000, "max_connections_per_ip": 2000},
            "server": {"worker_threads": 16},
            "smtp": {"etrn": True},
            "relay": {"networks": ["127.0.0.0/8"]},
            "queue": {"path": str(queue)},
            "outbound": {"tls": "none", "helo_name": "taube.bench.test", "connect_timeout": 5},
            "transport": {d: f"smtp:[{h}]:{sink_port}" for d, h in zip(DEST_DOMAINS, SINK_HOSTS)},
        }
        self.config = root / "taube.toml"
        self.config.write_text(to_toml(cfg))
        self.logfile = root / "taube.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 300) -> dict:
        """Spawns, then polls for greeting + EHLO every 5 ms: seconds to serving, and the pid."""
        self.log_f = open(self.logfile, "ab")
        self.log_start = self.logfile.stat().st_size
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, "serve", "--config", str(self.config)],
                                     stdin=subprocess.DEVNULL, stdout=self.log_f,
                                     stderr=self.log_f, cwd=self.root)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"taube exited ({self.proc.returncode}): {self.log_tail()}")
            if self._ehlo():
                return dict(t0=t0, serve_s=time.monotonic() - t0)
            time.sleep(0.005)
        raise RuntimeError(f"taube did not answer EHLO within {timeout:.0f} s")

    def _ehlo(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as s:
                s.settimeout(10)
                f = s.makefile("rb")
                if not f.readline().startswith(b"220"):
                    return False
                s.sendall(b"EHLO probe.bench.test\r\n")
                while True:
                    line = f.readline()
                    if not line.startswith(b"250"):
                        return False
                    if line[3:4] == b" ":
                        break
                s.sendall(b"QUIT\r\n")
                return True
        except OSError:
            return False

    def log_text(self) -> str:
        with open(self.logfile, "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")

    def log_tail(self, n: int = 6) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def wait_loaded(self, t0: float, timeout: float) -> tuple[float, int, float]:
        """Polls the log for the "queue loaded" line: (seconds since exec, items, Taube's own
        figure for the load)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = LOADED_RX.search(self.log_text())
            if m:
                return time.monotonic() - t0, int(m.group(2)), float(m.group(3))
            if self.proc.poll() is not None:
                raise RuntimeError(f"taube exited while loading: {self.log_tail()}")
            time.sleep(0.02)
        raise RuntimeError(f"no 'queue loaded' line within {timeout:.0f} s: {self.log_tail()}")

    def rss_kb(self) -> int:
        return proc_status(self.proc.pid, "VmRSS") or 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self.log_f.close()


def closed_port() -> int:
    """A port nothing listens on at any sink host: the destinations are down."""
    with socket.socket() as s:
        s.bind((SINK_HOSTS[0], 0))
        return s.getsockname()[1]


def template(b, root: Path, sink_port: int) -> dict:
    """Real messages through a real Taube, one to each of the 20 domains, nothing listening:
    their deferred envelopes and a stored message become the generator's template (check_codec
    proves the format on each)."""
    q = root / "queue"
    t = ScaleTaube(root, b.args.taube, q, sink_port, tp.free_port())
    t.start(30)
    try:
        # One message per domain: an item's destinations are tried one after the other.
        c = RawClient(HOST, t.port, timeout=30, record=False)
        c.greet("EHLO client.bench.test")
        for i, d in enumerate(DEST_DOMAINS):
            c.expect("250", f"MAIL FROM:<{SENDER}> SIZE=1200")
            c.expect("250", f"RCPT TO:<t{i}@{d}>")
            c.expect("354", "DATA")
            c.send(message("@MARKER@", f"t{i}@{d}"))
            c.expect("250")
        c.expect("221", "QUIT")
        c.close()
        deadline = time.monotonic() + 60
        while True:
            texts = {p.name: p.read_text() for p in (q / "env").iterdir()}
            if len(texts) == len(DEST_DOMAINS) and all("state=deferred" in x
                                                       for x in texts.values()):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"template items not deferred in 60 s: {texts!r}")
            time.sleep(0.1)
        envs = {n: queuegen.check_codec(x) for n, x in texts.items()}
        name = sorted(texts)[0]
        text = texts[name]
        msg = (q / "new" / name).read_bytes()
    finally:
        t.stop()
    rcpts = [r for e in envs.values() for r in e["rcpts"]]
    env = envs[name]
    routes = {r["domain"]: r["route"] for r in rcpts}
    replies = {r["domain"]: r["reply"] for r in rcpts}
    # The name's shape (time.MusecPpidQseq_taube.host): another pid and host, never Taube's.
    m = re.match(r"(\d+)\.M\d+P\d+Q\d+(_taube\..*)$", name)
    if not m or b"@MARKER@" not in msg:
        raise RuntimeError(f"unexpected template item {name!r}")
    base = {k: v for k, v in env.items() if k not in ("id", "arrival", "rcpts")}
    shutil.rmtree(root, ignore_errors=True)
    return dict(env=base, message=msg, domains=DEST_DOMAINS, now=int(time.time()),
                reply=replies, routes=routes, id_prefix="SC",
                name_prefix=f"{m.group(1)}.M0P1", name_suffix="_taube.gen.bench.test",
                env_text=text)


def cold_restart(t: ScaleTaube, rec: dict) -> None:
    """The largest point again from a cold page cache (as after a reboot): Taube stopped, the
    kernel's clean caches dropped (root only; this is machine-wide), Taube started again."""
    t.stop()
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as e:
        rec["cold"] = dict(skipped=f"cannot drop caches: {e}")
        t.start()
        t.wait_loaded(time.monotonic(), 900)
        return
    r = t.start()
    loaded_s, _, _ = t.wait_loaded(r["t0"], 1800)
    rec["cold"] = dict(serve_s=r["serve_s"], loaded_s=loaded_s)
    log(f"scale {rec['n']:,}: cold cache: serving after {r['serve_s']:.2f} s, loaded after "
        f"{loaded_s:.2f} s")


def drain(t: ScaleTaube, sinks: Sinks, n: int) -> dict:
    """Destinations back: ETRN per domain, then until the sinks have every delivery."""
    want = sum(queuegen.expected_deliveries(i) for i in range(n))
    base = sinks.total()
    offs = sinks.offsets()
    cpu0 = cpu_seconds(t.proc.pid)
    t0 = time.monotonic()
    c = RawClient(HOST, t.port, timeout=120, record=False)
    c.greet("EHLO client.bench.test")
    for d in DEST_DOMAINS:
        c.expect("25", f"ETRN {d}")
    c.expect("221", "QUIT")
    c.close()
    t_etrn = time.monotonic() - t0
    stalled, last_n, last_change = False, -1, time.monotonic()
    while True:
        got = sinks.total() - base
        now = time.monotonic()
        if got != last_n:
            last_n, last_change = got, now
        if got >= want:
            break
        if now - last_change > 60 or t.proc.poll() is not None or not sinks.alive():
            stalled = True
            break
        time.sleep(0.05)
    with sinks.cond:
        t_last = max(sinks.last)
    cpu1 = cpu_seconds(t.proc.pid)
    # The queue empties (every item removed), then the dumps say who arrived how often.
    deadline = time.monotonic() + 60
    while any((t.queue / "env").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = sum(1 for _ in (t.queue / "env").iterdir())
    time.sleep(0.5)
    seen: Counter = Counter()
    for m in sinks.markers(offs, b"sc.").elements():
        seen[int(m[3:])] += 1
    lost = sum(1 for i in range(n) if seen.get(i, 0) < queuegen.expected_deliveries(i))
    dup = sum(max(0, c - queuegen.expected_deliveries(i)) for i, c in seen.items())
    secs = t_last - t0
    return dict(ok=not stalled and lost == 0 and dup == 0 and left == 0, deliveries=want,
                received=sinks.total() - base, lost=lost, dup=dup, left=left, stalled=stalled,
                etrn_s=t_etrn, seconds=secs, rate=n / secs if secs > 0 else None,
                tx_rate=want / secs if secs > 0 else None,
                cpu_us=(cpu1 - cpu0) * 1e6 / n if cpu0 is not None and cpu1 is not None else None)


def run_scale(b) -> None:
    mode = "smoke" if b.args.smoke else "quick" if b.args.quick else "full"
    # For trying things out: BENCH_SCALE_SIZES=10000,100000 BENCH_SCALE_DRAIN=0.
    sizes = [int(x) for x in os.environ.get("BENCH_SCALE_SIZES", "").split(",") if x] \
        or SIZES[mode]
    drain_max = int(os.environ.get("BENCH_SCALE_DRAIN", DRAIN_MAX[mode]))
    root = b.tmp / "scale"
    root.mkdir(parents=True, exist_ok=True)
    sink_port = closed_port()
    spec = template(b, root / "template", sink_port)
    log(f"scale: template envelope verified ({len(spec['env_text'])} bytes, "
        f"{len(spec['message'])}-byte message)")
    b.scale_template = spec["env_text"]
    port = tp.free_port()
    # The same Taube with an empty queue: the baseline of the memory figure.
    empty = ScaleTaube(root / "empty", b.args.taube, root / "empty" / "queue", sink_port, port)
    r = empty.start(30)
    time.sleep(1.0)
    b.scale_empty_kb = empty.rss_kb()
    b.scale_empty_serve = r["serve_s"]
    empty.stop()
    log(f"scale: empty queue: RSS {b.scale_empty_kb:,} KiB, serving after {r['serve_s']:.3f} s")
    sinks = Sinks(root / "sinks")
    try:
        for n in sizes:
            rec: dict = dict(n=n)
            b.scale.append(rec)
            free = shutil.disk_usage(root).free
            if free < n * DISK_PER_ITEM * 1.2:
                rec["skipped"] = f"disk ({free / 2**30:.0f} GiB free, ~{n * DISK_PER_ITEM / 2**30:.0f} GiB needed)"
                log(f"scale {n:,}: skipped: {rec['skipped']}")
                continue
            d = root / f"n{n}"
            q = d / "queue"
            t0 = time.monotonic()
            queuegen.generate(q, n, spec)
            rec["gen_s"] = time.monotonic() - t0
            log(f"scale {n:,}: generated in {rec['gen_s']:.0f} s")
            t = ScaleTaube(d, b.args.taube, q, sink_port, port)
            try:
                r = t.start()
                rec["serve_s"] = r["serve_s"]
                rec["loaded_s"], loaded_n, rec["taube_load_s"] = t.wait_loaded(r["t0"], 900)
                if loaded_n != n or CORRUPT_RX.search(t.log_text()):
                    raise RuntimeError(f"Taube loaded {loaded_n} of {n} generated items: "
                                       f"{t.log_tail()}")
                time.sleep(1.0)
                rec["rss_kb"] = t.rss_kb()
                rec["bytes_per_msg"] = (rec["rss_kb"] - b.scale_empty_kb) * 1024 / n
                log(f"scale {n:,}: serving after {rec['serve_s']:.2f} s, loaded after "
                    f"{rec['loaded_s']:.2f} s, {rec['bytes_per_msg']:.0f} bytes/message")
                if n == max(sizes) and n >= 100_000 and os.environ.get("BENCH_SCALE_COLD", "1") != "0":
                    cold_restart(t, rec)
                if n <= drain_max:
                    if not sinks.procs:
                        sinks.start(sink_port)
                    dr = drain(t, sinks, n)
                    rec["drain"] = dr
                    log(f"scale {n:,}: drained at {dr['rate'] or 0:,.0f} msgs/s "
                        f"({dr['tx_rate'] or 0:,.0f} deliveries/s), lost {dr['lost']} dup "
                        f"{dr['dup']} left {dr['left']}")
                    if not dr["ok"]:
                        b.failures += 1
                        b.lost_total["scale"] = b.lost_total.get("scale", 0) + dr["lost"] + dr["dup"]
                        b.anomaly(f"scale {n}: drain {dr}")
            except Exception as e:  # noqa: BLE001
                rec["error"] = str(e).splitlines()[0][:200]
                b.failures += 1
                b.anomaly(f"scale {n}: {e}")
                log(f"scale {n:,}: FAILED: {e}")
            finally:
                t.stop()
            if os.environ.get("BENCH_KEEP_TMP"):
                continue
            if n >= 1_000_000:
                # Deleting 2M files takes ~10 minutes here (synchronous discard, cold caches):
                # moved out of the run's directory and deleted in the background, at idle I/O
                # priority, after the run.
                trash = b.tmp.parent / f"{b.tmp.name}-scale-trash-{n}"
                d.rename(trash)
                subprocess.Popen(["ionice", "-c3", "rm", "-rf", str(trash)],
                                 start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
                log(f"scale {n:,}: being removed in the background ({trash})")
                continue
            t0 = time.monotonic()
            subprocess.run(["rm", "-rf", str(d)], check=False)
            log(f"scale {n:,}: removed in {time.monotonic() - t0:.0f} s")
    finally:
        sinks.stop()


def relay_reference() -> tuple[float | None, str]:
    """Taube's relay throughput (per-domain routes) from the relay section of RESULTS.md: the
    rate the drain is compared with."""
    from .common import BENCH_DIR
    try:
        text = (BENCH_DIR / "RESULTS.md").read_text()
    except OSError:
        return None, "no RESULTS.md"
    m = re.search(r"\| per-domain routes \(\[transport\] / transport_maps\), [\d,]+ msgs — "
                  r"relayed/s[^|]*\| ([\d,]+) \|", text)
    if not m:
        return None, "no relay figure in RESULTS.md"
    return float(m.group(1).replace(",", "")), "Taube's relayed/s, per-domain routes, RESULTS.md"


def scale_report(b) -> tuple[str, list[str]]:
    from .common import fmt
    recs = b.scale
    missed: list[str] = []
    ref, ref_src = relay_reference()
    head = " | ".join(f"{r['n']:,}" for r in recs)
    out = ["### Queue scale: N deferred 1 KiB messages (1–2 recipients, 20 domains, destinations "
           "down), restart, memory, drain", "",
           f"| measurement | {head} | target |", "|---|" + "---:|" * len(recs) + "---|"]

    def row(label: str, vals: list[str], target: str = "") -> None:
        out.append(f"| {label} | " + " | ".join(vals) + f" | {target} |")

    def val(r: dict, f, digits: int = 0) -> str:
        if "skipped" in r:
            return f"skipped: {r['skipped'].split(' ')[0]}"
        if "error" in r and f(r) is None:
            return "failed"
        v = f(r)
        return fmt(v, digits)

    def verdict(ok: list[bool | None]) -> str:
        known = [o for o in ok if o is not None]
        if not known:
            return "not measured"
        return "met" if all(known) else "MISSED"

    g = lambda k: (lambda r: r.get(k))  # noqa: E731
    dr = lambda k: (lambda r: (r.get("drain") or {}).get(k))  # noqa: E731
    row("queue generated in, s (bench's writer, not Taube)", [val(r, g("gen_s"), 1) for r in recs])
    serve_ok = [None if r.get("serve_s") is None else r["serve_s"] <= SERVE_TARGET_S for r in recs]
    row("restart: exec → greeting + EHLO answered, s", [val(r, g("serve_s"), 2) for r in recs],
        f"≤{SERVE_TARGET_S:g} s — {verdict(serve_ok)}")
    row("restart: exec → \"queue loaded\" (every item scheduled), s",
        [val(r, g("loaded_s"), 2) for r in recs])
    if any("cold" in r for r in recs):
        cold = lambda k: (lambda r: (r.get("cold") or {}).get(k))  # noqa: E731
        row("restart from a cold page cache (caches dropped): exec → greeting + EHLO, s",
            [val(r, cold("serve_s"), 2) if "cold" in r else "—" for r in recs],
            f"≤{SERVE_TARGET_S:g} s — " + verdict([None if cold("serve_s")(r) is None else
                                                  cold("serve_s")(r) <= SERVE_TARGET_S
                                                  for r in recs]))
        row("restart from a cold page cache: exec → \"queue loaded\", s",
            [val(r, cold("loaded_s"), 2) if "cold" in r else "—" for r in recs])
    row("RSS after the load, MiB", [val(r, lambda r: r.get("rss_kb") and r["rss_kb"] / 1024, 1)
                                    for r in recs])
    mem_ok = [None if r.get("bytes_per_msg") is None else r["bytes_per_msg"] <= BYTES_TARGET
              for r in recs]
    row("RSS per queued message, bytes ((RSS − empty-queue RSS) / N)",
        [val(r, g("bytes_per_msg")) for r in recs], f"≤{BYTES_TARGET:,} — {verdict(mem_ok)}")
    drain_ok = [None if dr("rate")(r) is None or ref is None else dr("rate")(r) >= ref * 0.95
                for r in recs]
    row("drain after ETRN: messages/s (first ETRN → last arrival)",
        [val(r, dr("rate")) if "drain" in r or "skipped" in r else "not run" for r in recs],
        f"≥ relay throughput ({fmt(ref)}/s) — {verdict(drain_ok)}" if ref else f"({ref_src})")
    row("drain: deliveries/s (transactions at the sinks)",
        [val(r, dr("tx_rate")) if "drain" in r else "—" for r in recs])
    row("drain: Taube CPU µs per message", [val(r, dr("cpu_us")) if "drain" in r else "—"
                                            for r in recs])
    row("drain: lost / duplicated / left in the queue",
        [f"{r['drain']['lost']} / {r['drain']['dup']} / {r['drain']['left']}" if "drain" in r
         else "—" for r in recs], "must be 0")
    for r, ok in zip(recs, serve_ok):
        if ok is False:
            missed.append(f"queue scale {r['n']:,}: serving after {r['serve_s']:.1f} s "
                          f"(target ≤{SERVE_TARGET_S:g} s)")
    for r, ok in zip(recs, mem_ok):
        if ok is False:
            missed.append(f"queue scale {r['n']:,}: {r['bytes_per_msg']:.0f} bytes per queued "
                          f"message (target ≤{BYTES_TARGET})")
    for r, ok in zip(recs, drain_ok):
        if ok is False:
            missed.append(f"queue scale {r['n']:,}: drain {r['drain']['rate']:,.0f} msgs/s "
                          f"(relay throughput {ref:,.0f}/s)")
    # Growth per tenfold N: 1.0× per 10× is linear.
    done = [r for r in recs if r.get("loaded_s")]
    if len(done) >= 2:
        parts = []
        for a, c in zip(done, done[1:]):
            k = c["n"] / a["n"]
            parts.append(f"{a['n']:,}→{c['n']:,} (N ×{k:g}): load time ×{c['loaded_s'] / a['loaded_s']:.1f}, "
                         f"serving time ×{c['serve_s'] / a['serve_s']:.1f}, bytes/message "
                         f"×{c['bytes_per_msg'] / a['bytes_per_msg']:.2f}"
                         + (f", drain rate ×{c['drain']['rate'] / a['drain']['rate']:.2f}"
                            if c.get("drain", {}).get("rate") and a.get("drain", {}).get("rate")
                            else ""))
        out.append("\nGrowth: " + "; ".join(parts) + ".")
    out.append(f"\nEmpty-queue baseline: RSS {b.scale_empty_kb / 1024:.1f} MiB, serving after "
               f"{b.scale_empty_serve:.3f} s. Page cache warm (the items were just written) except "
               f"in the cold rows. "
               f"Drain reference: {ref_src}. Where the drain's time goes: bench/PROFILE.md, "
               f"\"Queue drain\" (the queue's file operations, not its size).")
    return "\n".join(out), missed

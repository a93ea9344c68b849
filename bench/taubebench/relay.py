"""Relay throughput and idle-queue latency: a client submits 1 KiB messages for 20 destination
domains; Taube (outbound queue) and Postfix relay them to smtp-sink destinations on 127.0.0.2 ...
127.0.0.21, routed per domain ([transport] / transport_maps) or all through one smarthost
(127.0.0.2). Every message carries a unique X-Bench-Id header; the sinks' dumps (-D) tell which
arrived and how often, their running counters (-c, one line per final ".") when."""

from __future__ import annotations

import asyncio
import os
import re
import selectors
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

from taubetest.smtp import RawClient

from .common import DOMAIN, HOST, KIB, SENDER, SMTP_SINK, log
from .servers import Postfix, Taube

NDEST = 20
SINK_HOSTS = [f"127.0.0.{i}" for i in range(2, 2 + NDEST)]
# Not *.test: libunbound answers NXDOMAIN for that special-use zone (RFC 6761) itself, without
# asking the configured server, in Taube builds before its resolver made `test.` transparent;
# .example works with every build.
DEST_DOMAINS = [f"d{i}.example" for i in range(1, NDEST + 1)]
ID_RX = re.compile(rb"\nX-Bench-Id: (\S+)\r?\n")
LINE = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab\r\n"


class Sinks:
    """One `smtp-sink -c -D dump` per destination host, all on one port. A thread drains their
    counter output (a full pipe would stall them) and notes when each count last went up."""

    def __init__(self, root: Path, hosts: list[str] = SINK_HOSTS):
        self.root = root
        self.hosts = hosts
        self.dumps = [root / f"dump-{i}" for i in range(len(hosts))]
        self.procs: list[subprocess.Popen] = []
        self.counts = [0] * len(hosts)
        self.sessions = [0] * len(hosts)  # connections each sink has seen
        self.last = [0.0] * len(hosts)
        self.cond = threading.Condition()
        self.halt = False
        self.port = 0

    def start(self, port: int = 0) -> None:
        """On `port`, or on a free one."""
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o777)  # smtp-sink runs as nobody and creates the dumps
        self.port = port
        if not port:
            with socket.socket() as s:
                s.bind((self.hosts[0], 0))
                self.port = s.getsockname()[1]
        for h, d in zip(self.hosts, self.dumps):
            self.procs.append(subprocess.Popen(
                [SMTP_SINK, "-u", "nobody", "-c", "-m", "1000", "-D", str(d), f"{h}:{self.port}",
                 "1024"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        for h in self.hosts:
            while True:
                try:
                    socket.create_connection((h, self.port), 1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"smtp-sink on {h}:{self.port} not answering")
                    time.sleep(0.05)

    def _drain(self) -> None:
        sel = selectors.DefaultSelector()
        for i, p in enumerate(self.procs):
            sel.register(p.stdout.fileno(), selectors.EVENT_READ, i)
        rx = re.compile(rb"sess=(\d+) quit=\d+ mesg=(\d+)")
        while not self.halt:
            for key, _ in sel.select(0.5):
                data = os.read(key.fd, 65536)
                now = time.monotonic()
                if not data:
                    sel.unregister(key.fd)
                    continue
                m = rx.findall(data)
                if m:
                    with self.cond:
                        n = int(m[-1][1])
                        self.sessions[key.data] = int(m[-1][0])
                        if n != self.counts[key.data]:
                            self.counts[key.data] = n
                            self.last[key.data] = now
                            self.cond.notify_all()

    def total(self) -> int:
        with self.cond:
            return sum(self.counts)

    def connections(self) -> int:
        with self.cond:
            return sum(self.sessions)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def offsets(self) -> list[int]:
        return [d.stat().st_size if d.exists() else 0 for d in self.dumps]

    def markers(self, offsets: list[int], prefix: bytes) -> Counter:
        """X-Bench-Id values starting with `prefix` dumped since `offsets`."""
        c: Counter = Counter()
        for d, off in zip(self.dumps, offsets):
            if d.exists():
                with open(d, "rb") as f:
                    f.seek(off)
                    c.update(m for m in ID_RX.findall(f.read()) if m.startswith(prefix))
        return c

    def stop(self) -> None:
        self.halt = True
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def message(marker: str, rcpt: str) -> bytes:
    """~1 KiB of body, CRLF, already terminated by the final '.'."""
    head = (f"From: <{SENDER}>\r\nTo: <{rcpt}>\r\nSubject: relay {marker}\r\n"
            f"Message-ID: <{marker}@client.{DOMAIN}>\r\nX-Bench-Id: {marker}\r\n\r\n").encode()
    return head + LINE * (KIB // len(LINE)) + b".\r\n"


def render(jobs: list[tuple[str, str]]) -> list[tuple[str, bytes, bytes]]:
    """(marker, the pipelined MAIL/RCPT/DATA, the content) per job: built before the clock
    starts, so the client spends its time on the dialog only."""
    return [(m, f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<{r}>\r\nDATA\r\n".encode(), message(m, r))
            for m, r in jobs]


class _Session(asyncio.Protocol):
    """One client connection sending its jobs one transaction after another, MAIL, RCPT and
    DATA pipelined (RFC 2920), the content after the 354. A protocol object rather than
    streams: the client must stay well above the relays' rates on two shared cores."""

    def __init__(self, jobs, acked: list, errors: list, done: asyncio.Future, last_ack: list):
        self.jobs, self.acked, self.errors, self.done = jobs, acked, errors, done
        self.last_ack = last_ack
        self.buf = b""
        self.i = 0
        self.state = "greet"
        self.codes: list[int] = []
        self.tr = None

    def connection_made(self, tr) -> None:
        self.tr = tr

    def _next(self) -> None:
        if self.i < len(self.jobs):
            self.state, self.codes = "cmds", []
            self.tr.write(self.jobs[self.i][1])
        else:
            self.state = "quit"
            self.tr.write(b"QUIT\r\n")

    def _reply(self, code: int) -> None:
        st = self.state
        if st == "greet":
            if code != 220:
                return self._fail(f"greeting {code}")
            self.state = "ehlo"
            self.tr.write(b"EHLO client.bench.test\r\n")
        elif st == "ehlo":
            if code != 250:
                return self._fail(f"EHLO {code}")
            self._next()
        elif st == "cmds":
            self.codes.append(code)
            if len(self.codes) < 3:
                return
            if self.codes == [250, 250, 354]:
                self.state = "body"
                self.tr.write(self.jobs[self.i][2])
            else:
                self.errors.append(f"{self.jobs[self.i][0]}: replies {self.codes}")
                self.i += 1
                self.state = "rset"
                self.tr.write(b".\r\n" if self.codes[2] == 354 else b"RSET\r\n")
        elif st == "body":
            if code == 250:
                self.acked.append(self.jobs[self.i][0])
                self.last_ack[0] = time.monotonic()
            else:
                self.errors.append(f"{self.jobs[self.i][0]}: end of data {code}")
            self.i += 1
            self._next()
        elif st == "rset":
            self._next()
        elif st == "quit":
            self.state = "closed"
            self.tr.close()

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            n = self.buf.find(b"\r\n")
            if n < 0:
                return
            line, self.buf = self.buf[:n], self.buf[n + 2:]
            if line[3:4] != b"-":
                try:
                    code = int(line[:3])
                except ValueError:
                    return self._fail(f"bad reply {line[:80]!r}")
                self._reply(code)

    def _fail(self, why: str) -> None:
        self.errors.append(f"session: {why}")
        self.state = "closed"
        self.tr.close()

    def connection_lost(self, exc) -> None:
        if self.state != "closed":
            self.errors.append(f"session: connection lost in state {self.state} ({exc})")
        if not self.done.done():
            self.done.set_result(None)


def submit(hosts: list[str], port: int, jobs: list[tuple[str, bytes, bytes]],
           sessions: int) -> tuple[list, list, float]:
    """Send the rendered `jobs` over `sessions` parallel connections (session i to
    hosts[i % len(hosts)]); returns the acknowledged markers, the errors and the time of the
    last 250 to an end of data."""
    per = [jobs[i::sessions] for i in range(sessions)]
    acked: list[str] = []
    errors: list[str] = []
    last_ack = [time.monotonic()]

    async def one(host: str, part) -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        try:
            await loop.create_connection(lambda: _Session(part, acked, errors, done, last_ack), host, port)
        except OSError as e:
            errors.append(f"session: connect: {e}")
            return
        await done

    async def run():
        await asyncio.gather(*(one(hosts[i % len(hosts)], p) for i, p in enumerate(per) if p))

    asyncio.run(run())
    return acked, errors, last_ack[0]


def jobs_for(prefix: str, count: int, sessions: int) -> list[tuple[str, str]]:
    """Message i goes to session i % sessions; each session cycles through the 20 domains."""
    return [(f"{prefix}.{i}", f"u{i}@{DEST_DOMAINS[(i % sessions + i // sessions) % NDEST]}")
            for i in range(count)]


def relay_throughput(b, srv, sinks: Sinks, count: int, sessions: int) -> dict:
    """`count` messages through `srv`, or with srv None straight to the sinks (session i to
    sink i: what the client and the sinks alone can carry); messages/s from the first connect
    to the last arrival at a sink."""
    prefix = b.next_rcpt()
    jobs = render(jobs_for(prefix, count, sessions))
    offs = sinks.offsets()
    base = sinks.total()
    conn0 = sinks.connections()
    cpu0 = srv.cpu_seconds() if srv is not None else None
    t0 = time.monotonic()
    if srv is None:
        acked, errors, t_acc = submit(sinks.hosts, sinks.port, jobs, sessions)
    else:
        acked, errors, t_acc = submit([HOST], srv.port, jobs, sessions)
    want = len(acked)
    stalled, last_n, last_change = False, -1, time.monotonic()
    while True:
        n = sinks.total() - base
        now = time.monotonic()
        if n != last_n:
            last_n, last_change = n, now
        if n >= want:
            break
        if now - last_change > 30 or (srv is not None and not srv.alive()) or not sinks.alive():
            stalled = True
            break
        time.sleep(0.01)
    with sinks.cond:
        t_last = max(sinks.last)
    cpu1 = srv.cpu_seconds() if srv is not None else None
    # Let the queue drain completely (a duplicate would come now), then read the dumps.
    deadline = time.monotonic() + 10
    while srv is not None and not srv.queue_empty() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    got = sinks.markers(offs, prefix.encode() + b".")
    acked_set = set(m.encode() for m in acked)
    lost = sum(1 for m in acked_set if m not in got)
    dup = sum(c - 1 for c in got.values() if c > 1)
    unacked = sum(1 for m in got if m not in acked_set)
    ok = not errors and not stalled and lost == 0 and dup == 0
    conns = sinks.connections() - conn0
    rec = dict(ok=ok, count=count, accepted=want, received=sum(got.values()), lost=lost,
               # Connections the destinations saw per message: connection reuse at work.
               conn_per_msg=conns / want if want else None,
               dup=dup, unacked=unacked, errors=len(errors),
               acc_rate=want / (t_acc - t0) if want else None,
               rate=want / (t_last - t0) if want and not stalled and t_last > t0 else None,
               seconds=t_last - t0,
               cpu_us=((cpu1 - cpu0) * 1e6 / want) if cpu0 is not None and cpu1 is not None
               and want else None)
    name = srv.name if srv is not None else "sink"
    if errors:
        b.anomaly(f"relay {name}: {len(errors)} submission error(s), first: {errors[0]}")
    if stalled:
        b.anomaly(f"relay {name}: delivery stalled at {last_n}/{want} received")
    if lost or dup:
        b.anomaly(f"relay {name}: {lost} lost, {dup} duplicated of {want} acknowledged "
                  f"({sum(got.values())} received)")
    if not ok:
        b.failures += 1
    return rec


def relay_latency(b, srv, sinks: Sinks, n: int, gap: float = 0.02) -> dict:
    """One message at a time over one session: client's 250 -> the sink's final '.'."""
    prefix = b.next_rcpt()
    lats: list[float] = []
    errors: list[str] = []
    c = RawClient(HOST, srv.port, timeout=30, record=False)
    try:
        c.greet("EHLO client.bench.test")
        for i in range(n):
            marker = f"{prefix}.{i}"
            rcpt = f"u{i}@{DEST_DOMAINS[i % NDEST]}"
            base = sinks.total()
            c.expect("250", f"MAIL FROM:<{SENDER}>")
            c.expect("250", f"RCPT TO:<{rcpt}>")
            c.expect("354", "DATA")
            c.send(message(marker, rcpt))
            r = c.reply()
            t_acc = time.monotonic()
            if r.code != 250:
                errors.append(f"{marker}: {r.lines!r}")
                continue
            with sinks.cond:
                if not sinks.cond.wait_for(lambda: sum(sinks.counts) > base, timeout=30):
                    errors.append(f"{marker}: not received in 30 s")
                    break
                t_recv = max(sinks.last)
            lats.append((t_recv - t_acc) * 1000)
            time.sleep(gap)  # the queue idle again before the next one
        c.expect("221", "QUIT")
    except Exception as e:  # noqa: BLE001
        errors.append(f"{type(e).__name__}: {e}")
    finally:
        c.close()
    rec = dict(ok=not errors, n=len(lats), errors=len(errors))
    if lats:
        lats.sort()
        rec["p50"] = lats[len(lats) // 2]
        rec["p99"] = lats[min(len(lats) - 1, int(len(lats) * 0.99))]
        rec["max"] = lats[-1]
    if errors:
        b.failures += 1
        b.anomaly(f"relay latency {srv.name}: {len(errors)} error(s), first: {errors[0]}")
    return rec


# -- the relaying servers ---------------------------------------------------------------------


class TaubeRelay(Taube):
    """Taube with its outbound queue under its own directory; queue_empty() looks at it."""

    def queue_empty(self) -> bool:
        q = self.root / "queue"
        return not any(p.is_file() for p in q.rglob("*") if "corrupt" not in p.parts) \
            if q.is_dir() else True


def mx_zone(sinks: Sinks) -> dict:
    """dN.example MX 10 mx.dN.example, its A 127.0.0.(N+1): the same destinations by MX."""
    zone = {}
    for d, h in zip(DEST_DOMAINS, sinks.hosts):
        zone[d] = {"MX": [[10, f"mx.{d}"]]}
        zone[f"mx.{d}"] = {"A": [h]}
    return zone


def taube_relay(root: Path, binary: str, sinks: Sinks, variant: str,
                dns_port: int = 0) -> TaubeRelay:
    extra = {
        "relay": {"networks": ["127.0.0.0/8"]},
        "queue": {"path": str(root / "queue")},
        "outbound": {"tls": "none", "helo_name": "taube.bench.test"},
    }
    if variant == "smarthost":
        extra["relay"].update(smarthost=f"[{sinks.hosts[0]}]:{sinks.port}", smarthost_tls="none")
    elif variant == "mx":
        # MX lookups through the test DNS server; the sinks' port for every MX host.
        extra["dns"] = {"servers": [f"127.0.0.1:{dns_port}"], "family": "ipv4-only"}
        extra["outbound"]["port"] = sinks.port
    else:
        extra["transport"] = {d: f"smtp:[{h}]:{sinks.port}"
                              for d, h in zip(DEST_DOMAINS, sinks.hosts)}
    srv = TaubeRelay(root, binary, "maildir", extra)
    srv.name = f"taube-relay-{variant}"
    return srv


def postfix_relay(root: Path, sinks: Sinks, variant: str) -> Postfix:
    root.mkdir(parents=True, exist_ok=True)
    transport = root / "transport"
    transport.write_text("".join(f"{d} smtp:[{h}]:{sinks.port}\n"
                                 for d, h in zip(DEST_DOMAINS, sinks.hosts)))
    extra = {"smtp_helo_name": "postfix.bench.test", "smtp_tls_security_level": "none"}
    if variant == "smarthost":
        extra["relayhost"] = f"[{sinks.hosts[0]}]:{sinks.port}"
    else:
        extra["transport_maps"] = f"texthash:{transport}"
    # default_process_limit stays Postfix's default (100) like Taube's max_connections.
    srv = Postfix(root, 100, extra)
    srv.name = f"postfix-relay-{variant}"
    return srv


VARIANTS = ("transport", "mx", "smarthost")
# Postfix resolves MX through /etc/resolv.conf only: a private DNS server would mean changing the
# system's resolver, so its "by MX" cell stays n/a and Taube's MX figure compares with routes.
POSTFIX_NO_MX = "Postfix has no private resolver setting (only /etc/resolv.conf)"


def end_to_end(b, srv, sinks: Sinks, timeout: float = 15) -> str | None:
    """Before measuring: one message through `srv` to a sink. None if it arrived, else why
    not (for Taube, its first warning line: e.g. a deferral)."""
    base = sinks.total()
    acked, errors, _ = submit([HOST], srv.port, render([(f"{b.next_rcpt()}.0",
                                                        f"u0@{DEST_DOMAINS[0]}")]), 1)
    if errors or not acked:
        return f"test message refused: {errors[:1]}"
    with sinks.cond:
        if sinks.cond.wait_for(lambda: sum(sinks.counts) > base, timeout=timeout):
            if isinstance(srv, Taube):
                srv.new_log_lines()
            return None
    lines = srv.new_log_lines() if isinstance(srv, Taube) else [srv.log_tail()]
    return f"test message not relayed in {timeout:.0f} s: " + (lines[0] if lines else "")


def run_relay(b) -> None:
    """The relay section of a run: for each variant, Taube and Postfix side by side (order
    rotating per repetition), plus the sinks alone, then the idle-queue latency."""
    p = b.p
    sinks = Sinks(b.tmp / "relay-sinks")
    dns = None
    try:
        sinks.start()
    except Exception as e:  # noqa: BLE001
        sinks.stop()
        b.anomaly(f"relay: sinks unavailable: {e}")
        b.unavailable["relay"] = str(e)[:70]
        return
    try:
        for r in range(p["reps"]):
            b.wait_quiet()
            rec = relay_throughput(b, None, sinks, p["relay"], p["relay_sessions"])
            b.add("relay", "sink", "sink", rec)
            log(f"relay sinks alone rep {r + 1}: {rec.get('rate') or 0:,.0f}/s")
        for variant in VARIANTS:
            kinds = ("taube",) if variant == "mx" else ("taube", "postfix")
            if variant == "mx":
                try:
                    from taubetest.dns_server import DnsServer
                    dns = DnsServer(mx_zone(sinks)).start()
                except Exception as e:  # noqa: BLE001
                    b.anomaly(f"relay by MX unavailable: {type(e).__name__}: {e}")
                    b.unavailable["relay-mx"] = f"no test DNS server: {e}"[:70]
                    continue
            log(f"== relay via {variant}: {', '.join(kinds)}")
            servers = []
            try:
                for kind in kinds:
                    root = b.tmp / f"relay-{kind}-{variant}"
                    try:
                        srv = (taube_relay(root, b.args.taube, sinks, variant,
                                           dns.port if dns else 0) if kind == "taube"
                               else postfix_relay(root, sinks, variant))
                        srv.start()
                        why = end_to_end(b, srv, sinks)
                        if why:
                            srv.stop()
                            raise RuntimeError(why)
                        servers.append((kind, srv))
                    except Exception as e:  # noqa: BLE001
                        if kind == "taube" and variant != "mx":
                            raise
                        b.anomaly(f"relay {kind} {variant} unavailable: {e}")
                        b.unavailable[f"relay-{variant if variant == 'mx' else kind}"] = \
                            str(e).splitlines()[0][:90]
                if not servers:
                    continue
                for r in range(p["reps"]):
                    k = r % len(servers)
                    for kind, srv in servers[k:] + servers[:k]:
                        busy = b.wait_quiet()
                        rec = relay_throughput(b, srv, sinks, p["relay"], p["relay_sessions"])
                        rec["busy"] = busy
                        b.add("relay", variant, kind, rec)
                        log(f"relay {variant} {kind} rep {r + 1}: {rec.get('rate') or 0:,.0f}/s "
                            f"(accepted {rec.get('acc_rate') or 0:,.0f}/s), lost {rec['lost']} "
                            f"dup {rec['dup']}")
                        b.check_server(srv, f"after relay {variant} rep {r + 1}")
                if variant == "transport":
                    for r in range(p["reps"]):
                        k = r % len(servers)
                        for kind, srv in servers[k:] + servers[:k]:
                            busy = b.wait_quiet()
                            rec = relay_latency(b, srv, sinks, p["relay_lat"])
                            rec["busy"] = busy
                            b.add("relay-lat", variant, kind, rec)
                            log(f"relay latency {kind} rep {r + 1}: p50 {rec.get('p50', 0):.2f} "
                                f"p99 {rec.get('p99', 0):.2f} ms")
                            b.check_server(srv, f"after relay latency rep {r + 1}")
            finally:
                for _, srv in servers:
                    srv.stop()
        # Every lost or duplicated message counts against the run (exit 1).
        for (section, _, kind), recs in b.results.items():
            if section == "relay":
                for rec in recs:
                    if rec.get("lost") or rec.get("dup"):
                        b.lost_total[f"relay-{kind}"] = b.lost_total.get(f"relay-{kind}", 0) \
                            + rec.get("lost", 0) + rec.get("dup", 0)
    finally:
        sinks.stop()
        if dns is not None:
            dns.stop()


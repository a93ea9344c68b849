"""Latency of a full transaction (connect ... QUIT, 1 KiB) from concurrent blocking clients."""

from __future__ import annotations

import threading
import time

from taubetest.maildir import count_files
from taubetest.smtp import ConnectionClosed, RawClient, SmtpError

from .common import DOMAIN, HOST, KIB, SENDER, message_bytes

# What a failed transaction raises (socket errors and timeouts are OSErrors).
ERRORS = (OSError, SmtpError, ConnectionClosed)


def full_transaction(port: int, to: str, msg: bytes) -> None:
    """Greeting, EHLO, MAIL, RCPT, DATA with `msg` (CRLF, not needing dot-stuffing), QUIT; each
    reply must be the expected one. Raises one of ERRORS."""
    c = RawClient(HOST, port, timeout=60, record=False)
    try:
        r = c.reply()
        if r.code != 220:
            raise SmtpError(f"greeting {r.lines!r}")
        c.expect("250", "EHLO client.bench.test")
        c.expect("250", f"MAIL FROM:<{SENDER}>")
        c.expect("250", f"RCPT TO:<{to}>")
        c.expect("354", "DATA")
        c.send(msg + b".\r\n")
        r = c.reply()
        if r.code != 250:
            raise SmtpError(f"end of DATA -> {r.lines!r}")
        c.expect("221", "QUIT")
    finally:
        c.close()


def latency(b, srv, sessions: int, total: int) -> dict:
    local = b.next_rcpt()
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
            except ERRORS as e:
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
        b.failures += 1
        b.anomaly(f"{srv.name} latency: {len(errors)} failed transaction(s), "
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
            b.failures += 1
            b.lost_total[srv.name] = b.lost_total.get(srv.name, 0) + lost
            b.anomaly(f"{srv.name} latency run: {lost} acknowledged message(s) missing")
        elif srv.queue_empty():
            b.retire(md)
    return rec

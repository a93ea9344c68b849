"""Memory: idle connections (per-connection figure) and one big message (peak RSS growth)."""

from __future__ import annotations

import asyncio
import threading
import time

from taubetest.procinfo import proc_status
from taubetest.smtp import RawClient, SmtpError

from .common import DOMAIN, HOST, MIB, SENDER, message_bytes
from .latency import ERRORS


def idle(b, srv, n: int) -> dict:
    """On a freshly started server: memory before, open n connections that complete EHLO,
    memory after; per-connection figure in KiB."""
    time.sleep(1.0)
    before = srv.memory_kb()

    async def go():
        sem = asyncio.Semaphore(200)
        writers, errors = [], []

        async def read_reply(r):
            while True:
                line = await r.readline()
                if not line:
                    raise ConnectionError("closed")
                if line[3:4] != b"-":
                    return line

        async def one():
            async with sem:
                try:
                    r, w = await asyncio.wait_for(asyncio.open_connection(HOST, srv.port), 60)
                    g = await asyncio.wait_for(read_reply(r), 60)
                    if not g.startswith(b"220"):
                        raise ConnectionError(f"greeting {g!r}")
                    w.write(b"EHLO idle.bench.test\r\n")
                    await w.drain()
                    e = await asyncio.wait_for(read_reply(r), 60)
                    if not e.startswith(b"250"):
                        raise ConnectionError(f"EHLO {e!r}")
                    writers.append(w)
                except Exception as ex:  # noqa: BLE001
                    errors.append(f"{type(ex).__name__}: {ex}")

        t0 = time.monotonic()
        await asyncio.gather(*(one() for _ in range(n)))
        t_open = time.monotonic() - t0
        await asyncio.sleep(2.0)
        after = srv.memory_kb() if srv.alive() else None
        for w in writers:
            w.close()
        await asyncio.sleep(0.2)
        return len(writers), errors, after, t_open

    opened, errors, after, t_open = asyncio.run(go())
    rec = dict(ok=not errors and opened == n and after is not None, opened=opened,
               before_kb=before, after_kb=after, open_s=t_open,
               per_conn_kib=(after - before) / opened if opened and after else None)
    if errors:
        b.failures += 1
        b.anomaly(f"{srv.name} idle {n}: {len(errors)} connection(s) failed, "
                  f"first: {errors[0]}")
    return rec


def _send_big(port: int, to: str, size: int) -> None:
    """One message of `size` body bytes, written 1 MiB at a time (SIZE declared if offered)."""
    c = RawClient(HOST, port, timeout=300, record=False)
    try:
        c.reply()
        ehlo = c.expect("250", "EHLO client.bench.test").lines
        size_ext = any(l[4:].upper().startswith(b"SIZE") for l in ehlo)
        c.expect("250", f"MAIL FROM:<{SENDER}>" + (f" SIZE={size + 200}" if size_ext else ""))
        c.expect("250", f"RCPT TO:<{to}>")
        c.expect("354", "DATA")
        chunk = message_bytes(MIB, to)
        head_end = chunk.index(b"\r\n\r\n") + 4
        c.sock.sendall(chunk)
        body_chunk = chunk[head_end:]
        sent = len(chunk) - head_end
        while sent < size:
            c.sock.sendall(body_chunk)
            sent += len(body_chunk)
        c.sock.sendall(b".\r\n")
        r = c.reply()
        if r.code != 250:
            raise SmtpError(f"end of DATA -> {r.lines!r}")
        c.expect("221", "QUIT")
    finally:
        c.close()


def big(b, srv, size: int) -> dict:
    time.sleep(0.5)
    pid = srv.pid
    before = proc_status(pid, "VmRSS") or 0
    hwm0 = proc_status(pid, "VmHWM") or 0
    peak = [before]
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            v = proc_status(pid, "VmRSS")
            if v:
                peak[0] = max(peak[0], v)
            time.sleep(0.005)

    local = b.next_rcpt()
    to = f"{local}@{DOMAIN}"
    th = threading.Thread(target=sampler)
    th.start()
    err = None
    t0 = time.monotonic()
    try:
        _send_big(srv.port, to, size)
    except ERRORS as e:
        err = f"{type(e).__name__}: {e}"
    elapsed = time.monotonic() - t0
    time.sleep(0.2)
    stop.set()
    th.join()
    hwm1 = proc_status(pid, "VmHWM") or peak[0]
    peak_kb = max(hwm1, peak[0])
    rec = dict(ok=err is None, before_kb=before, hwm_before_kb=hwm0, peak_kb=peak_kb,
               growth_mib=(peak_kb - before) / 1024, seconds=elapsed)
    if err:
        b.failures += 1
        b.anomaly(f"{srv.name} {size // MIB} MiB message: {err}")
    else:
        files = list((srv.maildir(local) / "new").glob("*"))
        # Stored with LF or CRLF line ends: 78-byte CRLF lines may shrink by 1/78.
        if len(files) != 1 or files[0].stat().st_size < size * 0.98:
            b.failures += 1
            b.lost_total[srv.name] = b.lost_total.get(srv.name, 0) + 1
            b.anomaly(f"{srv.name} {size // MIB} MiB message acknowledged but not stored "
                      f"whole: {[f.stat().st_size for f in files]}")
            rec["ok"] = False
        b.retire(srv.maildir(local))
    return rec

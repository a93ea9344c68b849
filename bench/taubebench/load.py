"""Throughput: smtp-source sends `count` messages of `size` bytes over `sessions` parallel
sessions; accepted/s while it runs, delivered/s until the last one is in the Maildir."""

from __future__ import annotations

import re
import subprocess
import time

from taubetest.maildir import count_files

from .common import DOMAIN, HOST, KIB, MIB, SENDER, SMTP_SOURCE, last_line


def throughput(b, srv, sessions: int, size: int, count: int) -> dict:
    local = b.next_rcpt()
    to = f"{local}@{DOMAIN}"
    cmd = [SMTP_SOURCE, "-c", "-C", "5", "-s", str(sessions), "-m", str(count),
           "-l", str(size), "-M", f"client.{DOMAIN}", "-f", SENDER, "-t", to,
           f"{HOST}:{srv.port}"]
    timeout = 60 + count * size / (2 * MIB) + count / 20
    md = srv.maildir(local)
    n0 = count_files(md / "new") if md is not None else 0
    cpu0 = srv.cpu_seconds()
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = "timeout", e.stdout or b"", (e.stderr or b"") + b" (timed out)"
    t1 = time.monotonic()
    nums = re.findall(rb"\d+", out)
    counted = int(nums[-1]) if nums else 0
    ok = rc == 0
    # smtp-source's counter goes up when it has sent the final "." (before the reply), so
    # after an aborted run up to `sessions` counted messages may never have been
    # acknowledged: count only the rest as surely accepted.
    accepted = count if ok else max(0, counted - sessions)
    cpu1 = srv.cpu_seconds()
    rec = dict(ok=ok, accepted=accepted, count=count, acc_time=t1 - t0,
               acc_rate=(count / (t1 - t0)) if ok else None,
               # The server's CPU per message while smtp-source ran (for a storing server
               # its delivery work after that is not included).
               cpu_us=((cpu1 - cpu0) * 1e6 / count) if ok and cpu0 is not None
               and cpu1 is not None else None,
               counted=counted,
               error="" if ok else f"smtp-source {rc}: " + last_line(err))
    if not ok:
        b.failures += 1
    if md is not None:
        new = md / "new"
        t_done, n = None, 0
        last_change, last_n = time.monotonic(), -1
        deadline = time.monotonic() + 60 + count / 50
        while True:
            n = count_files(new) - n0
            now = time.monotonic()
            if n != last_n:
                last_n, last_change = n, now
            if n >= accepted and t_done is None:
                t_done = t1 if now - t1 < 0.05 else now
            if n >= accepted and srv.queue_empty():
                break
            if now - last_change > 10 and srv.queue_empty():
                break
            if now > deadline or not srv.alive():
                break
            time.sleep(0.02)
        rec["delivered"] = n
        rec["lost"] = max(0, accepted - n)
        if t_done is not None and ok:
            rec["del_rate"] = count / (t_done - t0)
        else:
            rec["del_rate"] = None
        if rec["lost"]:
            b.failures += 1
            b.lost_total[srv.name] = b.lost_total.get(srv.name, 0) + rec["lost"]
            b.anomaly(f"{srv.name} {sessions}x{size // KIB}KiB: {rec['lost']} message(s) "
                      f"acknowledged but not in the Maildir ({n}/{accepted})")
        if not ok and n < counted:
            rec["unsure"] = counted - max(n, accepted)
        if rec["lost"] == 0 and srv.queue_empty():
            b.retire(md)
    if not ok:
        stored = f", {rec['delivered']} stored" if "delivered" in rec else ""
        b.anomaly(f"{srv.name} {sessions}x{size // KIB}KiB x{count}: {rec['error']}; "
                  f"smtp-source had sent {counted} message(s) (at least {accepted} "
                  f"acknowledged){stored}")
    return rec

"""Measures the console's Deliveries search over a full delivery history (docs/console.md
"Deliveries", "Cost"). Not a ctest: run by hand,

    TAUBE_BIN=build/taube python3 tests/integration/deliveries_scale.py [MB]

It writes MB (default 64) of records in Taube's history format (store/delivery_record.hpp:
one JSON line each, segments of a tenth of the cap) into a queue directory, starts Taube with
the console on it, and times the API's searches: the newest page, a page by status, a text that
matches nothing (the whole history read), one message by queue id (also a full scan)."""

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from console_client import ADMIN, ADMIN_PW, CONSOLE_RX, Api, passwd  # noqa: E402
from taubetest import outbound as o  # noqa: E402


def record(i: int) -> str:
    status = ("sent", "sent", "sent", "bounced", "expired")[i % 5]
    t = 1700000000 + i
    return json.dumps({
        "v": 1, "time": t, "status": status, "queue_id": f"1AB{i:013X}",
        "queue_file": f"{t}.M{i}P123Q1_mx.example.org", "message_id": f"<{i}.x@client.test>",
        "sender": f"sender{i % 977}@example.org", "recipient": f"user{i}@remote{i % 89}.test",
        "original": "", "arrival": t - 3, "dsn": "2.0.0" if status == "sent" else "5.1.1",
        "reply": "250 2.0.0 Ok: queued as 4Xyz" if status == "sent" else "550 5.1.1 no such user",
        "relay": f"mx.remote{i % 89}.test[192.0.2.{i % 250}]:25",
        "attempts": [{"time": t, "host": f"mx.remote{i % 89}.test",
                      "address": f"192.0.2.{i % 250}", "reply": "250 2.0.0 Ok", "seconds": 0.042,
                      "tls": True, "status": status}]}) + "\n"


def main(mb: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="taube-deliveries-scale-"))
    try:
        hist = root / o.QUEUE / "history"
        hist.mkdir(parents=True)
        cap, seg_max = mb << 20, (mb << 20) // 10
        seq, size, n, out = 1, 0, 0, open(hist / "0000000000000001.jsonl", "w")
        total = 0
        while total + 800 < cap:
            line = record(n)
            if size + len(line) > seg_max:
                out.close()
                seq += 1
                size = 0
                out = open(hist / f"{seq:016d}.jsonl", "w")
            out.write(line)
            size += len(line)
            total += len(line)
            n += 1
        out.close()
        print(f"{n} records, {total / 2**20:.1f} MiB in {seq} segments", flush=True)
        passwd(root / "admins", ADMIN, ADMIN_PW)
        srv = o.start({o.REMOTE: "smtp:[127.0.0.2]:9"}, root=root,
                      queue={"history_size_mb": mb},
                      extra={"console": {"users_file": str(root / "admins"),
                                         "listen": "127.0.0.1:0"}})
        try:
            port = int(srv.wait_log(CONSOLE_RX, 10).group(1))
            api = Api(port)
            api.login()
            for what, path in [("newest page (50)", "/deliveries"),
                               ("status=expired (50)", "/deliveries?status=expired"),
                               ("q matching nothing", "/deliveries?q=nobody%40nowhere"),
                               ("q = a sender (50 of ~90)", "/deliveries?q=sender5%40"),
                               # In the text of every sent line, in no searched field: each
                               # such line is decoded (the worst case).
                               ("q in replies only", "/deliveries?q=queued+as"),
                               ("one queue id (full scan)", f"/deliveries/1AB{n // 2:013X}")]:
                times = []
                for _ in range(3):
                    t0 = time.monotonic()
                    status, body, _ = api.get(path)
                    times.append(time.monotonic() - t0)
                    assert status == 200, (path, status, body)
                print(f"{what:28} {min(times) * 1000:8.0f} ms  ({len(body['items'])} items)",
                      flush=True)
        finally:
            srv.stop()
            srv.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 64)

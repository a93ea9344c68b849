"""Measures the web console against a large queue (issue 13: "stays responsive with 1,000,000
queued messages; measure it"). Not a ctest: run by hand,

    TAUBE_BIN=build/taube /usr/bin/python3 tests/integration/console_scale.py 100000

It writes N deferred items with queuegen (Taube's on-disk format, as the queue-scale benchmark
does), starts Taube with the console on them, and times the API's queries while a probe opens
SMTP sessions every 20 ms: the longest SMTP wait during each query shows how long the query
held the event loop. Results go to docs/console.md "Scale"."""

import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from console_client import ADMIN, ADMIN_PW, Api, passwd  # noqa: E402
from taubetest import outbound as o  # noqa: E402
from taubetest import queuegen  # noqa: E402
from taubetest.smtp import RawClient  # noqa: E402
from test_queue_startup import spec  # noqa: E402


class Probe(threading.Thread):
    """SMTP greeting + EHLO round trips, back to back with 20 ms pauses."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port, self.samples, self.stop = port, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            with RawClient(h.HOST, self.port, 30) as c:
                c.greet()
                c.cmd("QUIT")
            self.samples.append((t0, time.monotonic() - t0))
            time.sleep(0.02)

    def worst(self, t0: float, t1: float) -> float:
        return max((d for s, d in self.samples if s + d >= t0 and s <= t1), default=0.0)


def main(n: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="taube-console-scale-"))
    try:
        t = time.monotonic()
        queuegen.generate(root / o.QUEUE, n, spec(), procs=2)
        print(f"generated {n} items in {time.monotonic() - t:.1f} s", flush=True)
        passwd(root / "admins", ADMIN, ADMIN_PW)
        srv = o.start({o.REMOTE: "smtp:[127.0.0.2]:9"}, root=root,
                      queue={"max_lifetime": 86400},
                      extra={"console": {"users_file": str(root / "admins"),
                                         "listen": "127.0.0.1:0"},
                             "server": {"worker_threads": 4}})
        try:
            port = int(srv.wait_log(r"console: serving http://127\.0\.0\.1:(\d+)/", 10).group(1))
            if srv.wait_log(r"queue \S+: \d+ message\(s\) loaded in", 600) is None:
                raise SystemExit("the queue did not load")
            api = Api(port)
            api.login()
            names = sorted(p.name for p in (root / o.QUEUE / "env").iterdir())
            probe = Probe(srv.port)
            probe.start()
            time.sleep(0.5)
            last = (n + 49) // 50
            queries = [("queue page 1", "/queue?page=1&per_page=50"),
                       (f"queue page {last}", f"/queue?page={last}&per_page=50"),
                       ("queue filtered by recipient", "/queue?recipient=u77.0%40&per_page=50"),
                       ("queue state=hold (none)", "/queue?state=hold"),
                       ("one message by queue file", "/queue/" + names[n // 2]),
                       ("one message by queue id (a search)", f"/queue/GEN{n // 2:09X}"),
                       ("overview", "/overview"),
                       ("destinations", "/destinations")]
            for name, path in queries:
                times, worst = [], []
                for _ in range(3):
                    t0 = time.monotonic()
                    status, body, _ = api.get(path)
                    t1 = time.monotonic()
                    assert status == 200, (path, status, body)
                    times.append(t1 - t0)
                    time.sleep(0.1)
                    worst.append(probe.worst(t0, t1))
                print(f"{name:36s} {statistics.median(times) * 1000:8.0f} ms   "
                      f"SMTP wait up to {max(worst) * 1000:6.0f} ms", flush=True)
            probe.stop.set()
            probe.join()
            idle = sorted(d for _, d in probe.samples)
            print(f"SMTP greeting+QUIT median {statistics.median(idle) * 1000:.1f} ms over "
                  f"{len(idle)} sessions", flush=True)
        finally:
            srv.stop(check=False)
            srv.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)

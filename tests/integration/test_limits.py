"""Connection limits, timeouts and the pregreet test against the real binary (issue 4).

Keys from etc/taube.toml.example: [limits] max_connections, max_connections_per_ip,
command_timeout, data_timeout; [smtp] pregreet_delay. Each limit is checked at N and N+1, and
that a slot is given back when a connection closes.
"""

from __future__ import annotations

import selectors
import socket
import sys
import threading
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from taubetest import robust as rh  # noqa: E402

TOO_MANY = b"421 4.7.0 mx.test Error: too many connections, try again later\r\n"
TIMEOUT = b"421 4.4.2 mx.test Error: timeout exceeded\r\n"
PREGREET = (b"554 5.5.1 mx.test Error: SMTP protocol violation: client talked before the "
            b"greeting\r\n")


def greeting(port: int, source: str | None = None) -> tuple[socket.socket, bytes]:
    s = rh.connect(port, timeout=5, source=source)
    f = b""
    while not f.endswith(b"\r\n"):
        chunk = s.recv(1000)
        if not chunk:
            break
        f += chunk
    return s, f


def release_all(port: int, socks: list[socket.socket], timeout: float = 3.0) -> None:
    """Close `socks` and wait until the server has noticed (a probe connection gets 220)."""
    for s in socks:
        s.close()
    socks.clear()
    deadline = time.monotonic() + timeout
    while True:
        s, g = greeting(port)
        s.close()
        if g.startswith(b"220 ") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.1)  # and the probe's own close


def closed_soon(s: socket.socket, timeout: float = 3.0) -> bool:
    data, closed = rh.read_until_close(s, timeout)
    return closed and data == b""


class StopServer:
    """Mixin: one server per class; tearDownClass checks exit 0 on SIGTERM."""
    CONFIG: dict = {}

    @classmethod
    def setUpClass(cls):
        cls.srv = rh.RTaube(cls.CONFIG)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.assert_alive()
            rh.normal_transaction(cls.srv, tag="class-end")
            assert cls.srv.stop() == 0
        finally:
            cls.srv.cleanup()


class LoopbackExemptFromPerIpLimit(StopServer, unittest.TestCase):
    """Postfix exempts $mynetworks from smtpd_client_connection_limit: a local web application
    with many workers submitting through 127.0.0.1 must not get 421 after max_connections_per_ip.
    The exemption covers loopback and [relay] networks by default; the total limit still holds."""
    CONFIG = {"limits": {"max_connections": 12, "max_connections_per_ip": 3},
              "relay": {"networks": ["127.0.0.0/8"]}}

    def test_loopback_and_relay_networks_exempt_total_still_applies(self):
        socks = []
        try:
            for i in range(12):
                s, g = greeting(self.srv.port)
                self.assertTrue(g.startswith(b"220 "), f"connection {i + 1}: {g!r}")
                socks.append(s)
            s, g = greeting(self.srv.port)
            self.assertEqual(g, TOO_MANY, "the 13th exceeds max_connections")
            s.close()
        finally:
            release_all(self.srv.port, socks)


# --------------------------------------------------------------------------------------------


class MaxConnections(StopServer, unittest.TestCase):
    N = 5
    CONFIG = {"limits": {"max_connections": 5, "max_connections_per_ip": 100}}

    def fill(self) -> list[socket.socket]:
        socks = []
        for i in range(self.N):
            s, g = greeting(self.srv.port)
            self.assertTrue(g.startswith(b"220 mx.test ESMTP"), f"connection {i + 1}: {g!r}")
            socks.append(s)
        return socks

    def test_n_accepted_n_plus_1_rejected_and_slot_freed(self):
        socks = self.fill()
        try:
            # N+1: 421 4.7.0, then closed.
            s, g = greeting(self.srv.port)
            self.assertEqual(g, TOO_MANY)
            self.assertTrue(closed_soon(s), "the rejected connection is closed")
            s.close()
            # Rejections do not leak slots: still exactly N.
            s, g = greeting(self.srv.port)
            self.assertEqual(g, TOO_MANY)
            s.close()
            # Closing one frees its slot.
            socks.pop().close()
            deadline = time.monotonic() + 3
            while True:
                s, g = greeting(self.srv.port)
                if g.startswith(b"220 ") or time.monotonic() > deadline:
                    break
                s.close()
                time.sleep(0.05)
            self.assertTrue(g.startswith(b"220 mx.test ESMTP"), g)
            socks.append(s)
            s2, g2 = greeting(self.srv.port)
            self.assertEqual(g2, TOO_MANY, "full again")
            s2.close()
            # The admitted connections work normally.
            socks[0].sendall(b"NOOP\r\n")
            self.assertEqual(socks[0].recv(100), b"250 2.0.0 Ok\r\n")
        finally:
            release_all(self.srv.port, socks)

    def test_quit_frees_slot(self):
        socks = self.fill()
        try:
            socks[0].sendall(b"QUIT\r\n")
            self.assertTrue(socks[0].recv(100).startswith(b"221"))
            socks.pop(0).close()
            deadline = time.monotonic() + 3
            while True:
                s, g = greeting(self.srv.port)
                socks.append(s)
                if g.startswith(b"220 ") or time.monotonic() > deadline:
                    break
                socks.pop().close()
                time.sleep(0.05)
            self.assertTrue(g.startswith(b"220 "), g)
        finally:
            release_all(self.srv.port, socks)


class MaxConnectionsPerIp(StopServer, unittest.TestCase):
    N = 3
    # Loopback is exempt by default (like Postfix's $mynetworks): take the exemption away.
    CONFIG = {"limits": {"max_connections": 100, "max_connections_per_ip": 3,
                         "connection_limit_exempt": []}}

    def test_per_ip_n_and_n_plus_1(self):
        socks = []
        try:
            for i in range(self.N):
                s, g = greeting(self.srv.port)
                self.assertTrue(g.startswith(b"220 "), f"connection {i + 1}: {g!r}")
                socks.append(s)
            s, g = greeting(self.srv.port)
            self.assertEqual(g, TOO_MANY)
            self.assertTrue(closed_soon(s))
            s.close()
            # Another client address (127.0.0.2 is loopback too) is not affected.
            try:
                s, g = greeting(self.srv.port, source="127.0.0.2")
            except OSError as e:
                self.skipTest(f"cannot bind 127.0.0.2: {e}")
            self.assertTrue(g.startswith(b"220 "), f"other IP: {g!r}")
            socks.append(s)
            # Free one slot of 127.0.0.1.
            socks.pop(0).close()
            deadline = time.monotonic() + 3
            while True:
                s, g = greeting(self.srv.port)
                if g.startswith(b"220 ") or time.monotonic() > deadline:
                    break
                s.close()
                time.sleep(0.05)
            self.assertTrue(g.startswith(b"220 "), g)
            socks.append(s)
            s, g = greeting(self.srv.port)
            self.assertEqual(g, TOO_MANY, "127.0.0.1 full again")
            s.close()
        finally:
            release_all(self.srv.port, socks)


# --------------------------------------------------------------------------------------------


class IdleTimeouts(StopServer, unittest.TestCase):
    # Different values so the test can tell which timer fired.
    CONFIG = {"limits": {"command_timeout": 2, "data_timeout": 3}}

    def timed_close(self, s: socket.socket) -> tuple[bytes, float]:
        t0 = time.monotonic()
        data, closed = rh.read_until_close(s, 10)
        self.assertTrue(closed, f"not closed within 10 s; got {data!r}")
        return data, time.monotonic() - t0

    def test_idle_after_greeting(self):
        s, g = greeting(self.srv.port)
        self.assertTrue(g.startswith(b"220 "))
        data, dt = self.timed_close(s)
        s.close()
        self.assertEqual(data, TIMEOUT)
        self.assertGreater(dt, 1.8)
        self.assertLess(dt, 3.0)
        rh.report("idle_timeout_command", seconds=f"{dt:.2f}")

    def test_idle_in_data(self):
        s, g = greeting(self.srv.port)
        s.sendall(b"EHLO t\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\nDATA\r\n"
                  b"Subject: half\r\n\r\nhalf a messa")
        buf = b""
        while b"354 " not in buf:
            buf += s.recv(4096)
        data, dt = self.timed_close(s)
        s.close()
        self.assertEqual(data, TIMEOUT)
        self.assertGreater(dt, 2.8, "data_timeout (3 s) applies inside DATA, not command_timeout")
        self.assertLess(dt, 4.0)
        self.assertEqual(rh.store_files(self.srv.mail_root), [])
        self.assertEqual(h.tmp_leftovers(self.srv.mail_root), [])
        rh.report("idle_timeout_data", seconds=f"{dt:.2f}")


# --------------------------------------------------------------------------------------------


class Slowloris(unittest.TestCase):
    """500 connections that each send one octet per second (never a whole line), with
    command_timeout = data_timeout = 2 s. A normal client must still get through quickly, and the
    timeouts must end the slow connections with 421 4.4.2 (RFC 5321 §4.5.3.2: the server waits
    a bounded time for a command; a command that never completes is not a command)."""

    N = 500
    N_DATA = 50            # of which this many drip inside DATA (data_timeout)
    TIMEOUT = 2
    DRIP_SECONDS = 8       # 4 x the timeout
    results: dict = {}

    @classmethod
    def setUpClass(cls):
        nofile = rh.raise_nofile(4 * cls.N + 256)
        if nofile < 2 * cls.N + 64:
            raise unittest.SkipTest(f"RLIMIT_NOFILE {nofile} too small for {cls.N} connections")
        cls.srv = rh.RTaube({"limits": {"command_timeout": cls.TIMEOUT,
                                        "data_timeout": cls.TIMEOUT,
                                        "max_connections": 2000,
                                        "max_connections_per_ip": 2000}})
        try:
            cls.results = cls.run_scenario()
        except BaseException:
            cls.srv.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.srv.assert_alive()
            assert cls.srv.stop() == 0
        finally:
            cls.srv.cleanup()

    @classmethod
    def run_scenario(cls) -> dict:
        srv = cls.srv
        sel = selectors.DefaultSelector()
        state = {}   # sock -> dict(buf, closed_at, i)
        t_start = time.monotonic()
        for i in range(cls.N):
            s = rh.connect(srv.port, timeout=5)
            buf = b""
            while b"\r\n" not in buf:
                buf += s.recv(1000)
            if i < cls.N_DATA:
                s.sendall(b"EHLO slow\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
                          b"DATA\r\n")
                while b"354 " not in buf:
                    buf += s.recv(4096)
            s.setblocking(False)
            state[s] = {"buf": b"", "closed_at": None, "i": i}
            sel.register(s, selectors.EVENT_READ)
        connect_s = time.monotonic() - t_start
        drip = b"EHLO slowloris.example.org " + b"x" * 64
        stop = threading.Event()
        t0 = time.monotonic()

        def dripper():
            k = 0
            next_tick = time.monotonic()
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_tick:
                    for s, st in state.items():
                        if st["closed_at"] is None:
                            try:
                                s.send(drip[k % len(drip):k % len(drip) + 1])
                            except OSError:
                                pass
                    k += 1
                    next_tick += 1.0
                for key, _ in sel.select(timeout=0.05):
                    s = key.fileobj
                    st = state[s]
                    try:
                        chunk = s.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        chunk = b""
                    if chunk:
                        st["buf"] += chunk
                    else:
                        st["closed_at"] = time.monotonic() - t0
                        sel.unregister(s)

        th = threading.Thread(target=dripper, daemon=True)
        th.start()
        # A normal client during the attack: several full transactions, each timed.
        latencies, connects, dialogs = [], [], []
        time.sleep(0.5)
        while time.monotonic() - t0 < cls.DRIP_SECONDS - 1:
            parts: dict = {}
            latencies.append(rh.normal_transaction(srv, tag="slowloris", timings=parts))
            connects.append(parts["connect"])
            dialogs.append(parts["dialog"])
            time.sleep(0.3)
        rss = rh.rss_kb(srv.pid)
        fds = rh.fd_count(srv.pid)
        while time.monotonic() - t0 < cls.DRIP_SECONDS:
            time.sleep(0.05)
        stop.set()
        th.join(10)
        closed = [st for st in state.values() if st["closed_at"] is not None]
        with_421 = [st for st in closed if st["buf"].endswith(TIMEOUT)]
        res = {
            "connect_s": connect_s,
            "latencies": latencies,
            "connects": connects,
            "dialogs": dialogs,
            "rss_kb": rss,
            "fds": fds,
            "closed": len(closed),
            "closed_421": len(with_421),
            "closed_data": sum(1 for st in with_421 if st["i"] < cls.N_DATA),
            "close_times": sorted(st["closed_at"] for st in closed),
            "open_after": cls.N - len(closed),
        }
        for s in state:
            s.close()
        sel.close()
        ct = res["close_times"]
        rh.report("slowloris", connections=cls.N, connect_s=f"{connect_s:.2f}",
                  transactions=len(latencies),
                  latency_max_ms=f"{max(latencies) * 1000:.0f}" if latencies else "n/a",
                  latency_median_ms=(f"{sorted(latencies)[len(latencies) // 2] * 1000:.0f}"
                                     if latencies else "n/a"),
                  connect_max_ms=f"{max(connects) * 1000:.0f}" if connects else "n/a",
                  dialog_max_ms=f"{max(dialogs) * 1000:.0f}" if dialogs else "n/a",
                  server_rss_kb=rss, server_fds=fds, closed=len(closed),
                  closed_with_421=len(with_421),
                  still_open_after_s=f"{cls.DRIP_SECONDS}:{res['open_after']}",
                  first_close_s=f"{ct[0]:.1f}" if ct else "n/a",
                  last_close_s=f"{ct[-1]:.1f}" if ct else "n/a")
        return res

    def test_normal_client_latency_under_slowloris(self):
        lat = self.results["latencies"]
        self.assertGreaterEqual(len(lat), 3)
        # The server's part: greeting to 221 of every transaction.
        dialogs = self.results["dialogs"]
        self.assertLess(max(dialogs), 1.0, f"greeting-to-221 times {dialogs}")
        # The TCP handshake is the kernel's (the server accepts afterwards); one CI run of
        # 2026-11-29 saw a single 1.04 s transaction under parallel test load, the shape of one
        # SYN retransmission (1 s). Allow one, not more.
        connects = self.results["connects"]
        self.assertLess(max(connects), 1.5, f"connect times {connects}")
        self.assertLessEqual(sum(1 for c in connects if c >= 0.5), 1, f"connect times {connects}")

    def test_slow_clients_closed_by_timeouts(self):
        r = self.results
        self.assertEqual(
            r["closed_421"], self.N,
            f"after dripping one octet per second for {self.DRIP_SECONDS} s with "
            f"command_timeout = data_timeout = {self.TIMEOUT} s, only {r['closed_421']} of "
            f"{self.N} slow connections were closed with 421 4.4.2 ({r['open_after']} still open)")
        self.assertLessEqual(r["close_times"][-1], 2 * self.TIMEOUT + 1.5)


# --------------------------------------------------------------------------------------------


class Pregreet(StopServer, unittest.TestCase):
    CONFIG = {"smtp": {"pregreet_delay": 0.5}}

    def test_client_talking_first_is_rejected(self):
        s = rh.connect(self.srv.port, timeout=5)
        s.sendall(b"EHLO eager.test\r\n")
        data, closed = rh.read_until_close(s, 5)
        s.close()
        self.assertEqual(data, PREGREET, "no 220 first, only the 554")
        self.assertTrue(closed)

    def test_client_talking_first_with_pipelined_mail_is_rejected(self):
        s = rh.connect(self.srv.port, timeout=5)
        time.sleep(0.2)
        s.sendall(b"EHLO eager.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
                  b"DATA\r\nSubject: x\r\n\r\nx\r\n.\r\nQUIT\r\n")
        data, closed = rh.read_until_close(s, 5)
        s.close()
        self.assertEqual(data, PREGREET)
        self.assertTrue(closed)
        self.assertEqual(rh.store_files(self.srv.mail_root), [])

    def test_patient_client_gets_220(self):
        t0 = time.monotonic()
        s, g = greeting(self.srv.port)
        dt = time.monotonic() - t0
        try:
            self.assertTrue(g.startswith(b"220 mx.test ESMTP"), g)
            self.assertGreaterEqual(dt, 0.45, "greeting comes after pregreet_delay")
            self.assertLess(dt, 2.0)
            s.sendall(b"EHLO patient.test\r\n")
            self.assertTrue(s.recv(4096).startswith(b"250"))
        finally:
            s.close()
        rh.report("pregreet", greeting_delay_s=f"{dt:.2f}")
        rh.normal_transaction(self.srv, tag="pregreet")


if __name__ == "__main__":
    h.main()

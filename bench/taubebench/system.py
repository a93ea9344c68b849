"""The machine the benchmark runs on: how busy it is, dirty pages, load, what runs."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading
import time

from .common import REPO, SYS_PYTHON


def dirty_kb() -> int:
    total = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(("Dirty:", "Writeback:")):
                total += int(line.split()[1])
    return total


def settle_disk(timeout: float = 20.0) -> None:
    """Write back what earlier runs left dirty before the next measured run starts. A server
    that defers work to the kernel (Postfix deletes every queue file; the flusher writes that
    metadata back up to 30 s later) would otherwise slow down whichever server runs next: seen
    as Taube's 1-session rate falling from ~1,100 to ~780/s right after a Postfix run. No
    server's own run is shortened: the sync happens between runs, outside every timing."""
    os.sync()
    deadline = time.monotonic() + timeout
    while dirty_kb() > 1024 and time.monotonic() < deadline:
        time.sleep(0.1)


def cpu_busy(seconds: float) -> float:
    """Fraction of all CPUs busy over `seconds` (from /proc/stat)."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    t0, i0 = snap()
    time.sleep(seconds)
    t1, i1 = snap()
    return 1 - (i1 - i0) / max(1, t1 - t0)


class LoadMonitor(threading.Thread):
    """Samples the 1-minute load average every 5 s during the run."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            try:
                self.samples.append(float(open("/proc/loadavg").read().split()[0]))
            except (OSError, ValueError):
                pass
            self.halt.wait(5)

    def summary(self) -> str:
        if not self.samples:
            return "?"
        return (f"min {min(self.samples):.1f}, median {statistics.median(self.samples):.1f}, "
                f"max {max(self.samples):.1f}")


def machine() -> str:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) // 1024:,} MiB RAM"
    except (OSError, ValueError):
        pass
    return (f"nproc {os.cpu_count()}, kernel {platform.release()} ({platform.machine()}), "
            f"{cpu}, {mem}")


def versions(taube: str) -> str:
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    tv = run([taube, "--version"]) or "?"
    pv = run(["postconf", "-c", "/usr/share/postfix", "-dh", "mail_version"]) or "?"
    av = run([SYS_PYTHON, "-c", "import aiosmtpd; print(aiosmtpd.__version__)"]) or "?"
    rev = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"]) or "?"
    dirty = run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    return (f"Taube {tv} (git {rev}{', src/ modified' if dirty else ''}), Postfix {pv}, "
            f"aiosmtpd {av} on {run([SYS_PYTHON, '--version'])}")
